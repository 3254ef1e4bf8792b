// The abort handler. AssemblyScript calls `abort` for a failed assert(), a `throw`, an
// out-of-bounds array access and the like, and by default imports it as `env.abort`,
// which the host refuses. Build with `--use abort=gnrAbort`: this logs the message at
// error level through gnr.log and traps, which fails only the current call.
//
// It allocates nothing (the failure may be an allocation failure): the line is written
// into a static buffer.

import * as host from "./host";

const CAP: usize = 1024;
const buf = memory.data(<i32>CAP);
let len: usize = 0;

function put(s: string | null): void {
  if (s === null) return;
  // A UTF-16 unit takes at most 3 UTF-8 bytes: copy only what surely fits.
  let room = <i32>((CAP - len) / 3);
  let n = s.length < room ? s.length : room;
  len += String.UTF8.encodeUnsafe(changetype<usize>(s), n, buf + len, false, String.UTF8.ErrorMode.REPLACE);
}

function putU32(v: u32): void {
  let digits: usize = 1;
  for (let t = v; t >= 10; t /= 10) digits++;
  if (len + digits > CAP) return;
  for (let i = digits; i > 0; i--) {
    store<u8>(buf + len + i - 1, 0x30 + v % 10);
    v /= 10;
  }
  len += digits;
}

// @ts-ignore: decorator
@global
export function gnrAbort(message: string | null = null, fileName: string | null = null, line: u32 = 0, column: u32 = 0): void {
  len = 0;
  put("abort: ");
  put(message !== null ? message : "(no message)");
  if (fileName !== null) {
    put(" at ");
    put(fileName);
    put(":");
    putU32(line);
    put(":");
    putU32(column);
  }
  host.log(3, buf, <i32>len);
  unreachable();
}
