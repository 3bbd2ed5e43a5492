/**
 * libc's functions for the daemon and the guard (native_spawn.ts, resident.ts).
 *
 * They are called through `Deno.UnsafeFnPointer` rather than as the symbols
 * of `Deno.dlopen`: dlopen compiles a fast-call trampoline for every
 * synchronous symbol with Cranelift, which costs a process about 2.3 MB
 * resident for its whole life (one symbol or twenty; an idle node's memory,
 * docs/BENCHMARKS.md). A call through a function pointer takes Deno's general
 * path instead, about 1.2 µs. dlopen gives the functions' addresses as
 * `pointer` statics (Deno 2.9: a static's value is its address).
 */

/** `symbols`' functions of libc.so.6 (see the module's comment). */
export function bindLibcFunctions<const S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] {
  const entries = Object.entries(symbols) as [string, Deno.ForeignFunction][];
  const addresses = Deno.dlopen(
    "libc.so.6",
    Object.fromEntries(
      entries.map(([key, def]) => [key, { name: def.name ?? key, type: "pointer" }]),
    ) as Record<string, { name: string; type: "pointer" }>,
  ).symbols;
  const bound: Record<string, unknown> = {};
  for (const [key, def] of entries) {
    const address = addresses[key];
    if (address === null) throw new Error(`libc.so.6: no address for ${def.name ?? key}`);
    const fn = new Deno.UnsafeFnPointer(address as Deno.PointerObject<Deno.ForeignFunction>, def);
    bound[key] = (...args: Deno.NativeType[]) => fn.call(...(args as never[]));
  }
  return bound as Deno.DynamicLibrary<S>["symbols"];
}

/** errno of this thread, through libc's `__errno_location` (0 if it has none). */
export function errno(libc: { __errno_location: () => Deno.PointerValue }): number {
  const p = libc.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** libc's text for the error number `code`. */
export function strerror(libc: { strerror: (code: number) => Deno.PointerValue }, code: number) {
  const p = libc.strerror(code);
  return p === null ? `error ${code}` : Deno.UnsafePointerView.getCString(p);
}
