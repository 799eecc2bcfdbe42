"""Reading model files safely: NVIDIA network pickles and livegan's native format.

Nothing here executes code from a file: pickles go through an allow-listed
unpickler (``safe_pickle``), tensors through a bound-checked blob parser
(``torch_blob``), and the native format is safetensors plus JSON (``native``).
"""

from .native import read_native, save_native
from .nvpkl import OfficialNetwork, network_from_record, read_network_pickle
from .safe_pickle import safe_load
from .torch_blob import UnsafePickleError

__all__ = [
    "OfficialNetwork",
    "UnsafePickleError",
    "network_from_record",
    "read_native",
    "read_network_pickle",
    "safe_load",
    "save_native",
]
