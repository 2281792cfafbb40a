import { WasmCodec } from "./src/codec/wasm_codec.ts";
import { TsCodec } from "./src/codec/ts_codec.ts";
import { parseInterface } from "./src/interface.ts";
const ifs = [
 parseInterface({interface_name:"org.example.Values",version_major:1,version_minor:0,type:"datastream",ownership:"device",
   mappings:[{endpoint:"/%{s}/value",type:"double",explicit_timestamp:true},{endpoint:"/%{s}/int",type:"integer"},{endpoint:"/x/str",type:"string"},{endpoint:"/x/blob",type:"binaryblob"},{endpoint:"/x/arr",type:"longintegerarray"},{endpoint:"/x/sa",type:"stringarray"},{endpoint:"/x/l",type:"longinteger"},{endpoint:"/x/d",type:"datetime"}]}),
 parseInterface({interface_name:"org.example.Obj",version_major:1,version_minor:0,type:"datastream",ownership:"device",aggregation:"object",
   mappings:[{endpoint:"/%{s}/lat",type:"double"},{endpoint:"/%{s}/lon",type:"double"},{endpoint:"/%{s}/label",type:"string",required:true},{endpoint:"/%{s}/b",type:"binaryblobarray"}]}),
];
const w = new WasmCodec(), t = new TsCodec();
for (const i of ifs) { w.addInterface(i); t.addInterface(i); }
const cases: [string, string, unknown, Date?][] = [
 ["org.example.Values","/a/value",21.5,new Date(1704067200000)],
 ["org.example.Values","/a/value",21.5],
 ["org.example.Values","/a/int",42],
 ["org.example.Values","/a/int",-2147483648],
 ["org.example.Values","/x/str","hé€😀"],
 ["org.example.Values","/x/str","\ud800"],
 ["org.example.Values","/x/blob",new Uint8Array([1,2,3])],
 ["org.example.Values","/x/blob",new Uint8Array([])],
 ["org.example.Values","/x/arr",[1, 2n, -9223372036854775807n]],
 ["org.example.Values","/x/arr",[1, 2n, -9223372036854775808n]],
 ["org.example.Values","/x/sa",["a","bcd",""]],
 ["org.example.Values","/x/l",2n**40n],
 ["org.example.Values","/x/l",5],
 ["org.example.Values","/x/d",new Date(5)],
 ["org.example.Values","/a",1],
 ["org.example.Values","/a//value",1],
 ["org.example.Values","/x/y/z",1],
 ["org.example.Nope","/x",1],
];
for (const [n,p,v,ts] of cases) {
  let a, b;
  try { a = w.encodeIndividual(n,p,v as never,ts).payload.toHex(); } catch (e) { a = "ERR " + (e as {code:string}).code + " " + (e as Error).message; }
  try { b = t.encodeIndividual(n,p,v as never,ts).payload.toHex(); } catch (e) { b = "ERR " + (e as {code:string}).code + " " + (e as Error).message; }
  console.log(a === b ? "OK  " : "DIFF", p, a, a === b ? "" : "\n     " + b);
}
const ocases: [string, unknown, Date?][] = [["/k",{lat:45.5,lon:9.25,label:"k"}],["/k",{lat:45.5}],["/k",{label:"x", b:[new Uint8Array([1]), new Uint8Array()]}],["/k/lat",{label:"x"}],["/k",{label:"x", zz: 1}]];
for (const [p,v,ts] of ocases) {
  let a, b;
  try { a = w.encodeObject("org.example.Obj",p,v as never,ts).payload.toHex(); } catch (e) { a = "ERR " + (e as {code:string}).code + " " + (e as Error).message; }
  try { b = t.encodeObject("org.example.Obj",p,v as never,ts).payload.toHex(); } catch (e) { b = "ERR " + (e as {code:string}).code + " " + (e as Error).message; }
  console.log(a === b ? "OK  " : "DIFF", p, a, a === b ? "" : "\n     " + b);
}
