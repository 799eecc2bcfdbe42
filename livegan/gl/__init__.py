"""OpenGL output shared by live and offline: contexts (window or EGL), uploads, the shader effect chain."""
