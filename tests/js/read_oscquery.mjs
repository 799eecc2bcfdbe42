// Browse livegan's OSCQuery server with the npm `oscquery` client and print what it understood.
// usage: node read_oscquery.mjs HOST PORT   ->  JSON {hostInfo, methods: {path: {access, args}}}
import { OSCQueryDiscovery } from "oscquery";

const [host, port] = [process.argv[2], Number(process.argv[3])];
const service = await new OSCQueryDiscovery().queryNewService(host, port);
const methods = {};
for (const m of service.flat()) {
  methods[m.full_path] = { access: m.access ?? null, args: (m.arguments ?? []).map(a => ({
    type: a.type, range: a.range ?? null, clipmode: a.clipmode ?? null, value: a.value ?? null })) };
}
console.log(JSON.stringify({ hostInfo: service.hostInfo, methods }));
