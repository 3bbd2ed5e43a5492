import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { SCHA_COMMANDS, shellQuote, wrapperScript, writeSchaLinks } from "./scha_links.ts";
import { CliError, EX } from "./exit.ts";

Deno.test("scha-links: a wrapper runs the program with the command's name and every argument, quoting intact", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A stand-in for hastmon whose path and fixed argument need quoting.
    const program = `${dir}/it's here/prog`;
    await Deno.mkdir(`${dir}/it's here`);
    await Deno.writeTextFile(program, `#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done\n`, {
      mode: 0o755,
    });
    const written = await writeSchaLinks(`${dir}/bin`, [program, "a b", "$HOME"], false);
    assertEquals(written, SCHA_COMMANDS.map((c) => `${dir}/bin/${c}`));
    assertEquals((await Deno.stat(`${dir}/bin/scha_control`)).mode! & 0o777, 0o755);
    const out = await new Deno.Command(`${dir}/bin/scha_control`, {
      args: ["-O", "GIVEOVER", "-m", "two words", ""],
      stdout: "piped",
    }).output();
    assertEquals(
      new TextDecoder().decode(out.stdout),
      "[a b]\n[$HOME]\n[scha_control]\n[-O]\n[GIVEOVER]\n[-m]\n[two words]\n[]\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scha-links: our own wrappers are replaced; another file of that name only with --force, and nothing changes before", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSchaLinks(dir, ["/old/hastmon"], false);
    await writeSchaLinks(dir, ["/new/hastmon"], false);
    assert(
      (await Deno.readTextFile(`${dir}/scha_control`)).includes("'/new/hastmon' scha_control"),
    );
    await Deno.writeTextFile(`${dir}/scha_resource_setstatus`, "#!/bin/sh\n# Sun's own\n");
    const err = await assertRejects(() => writeSchaLinks(dir, ["/newer/hastmon"], false));
    assert(err instanceof CliError);
    assertEquals(err.code, EX.CANTCREAT);
    // Refused before any write: the first wrapper still runs the previous program.
    assert((await Deno.readTextFile(`${dir}/scha_control`)).includes("/new/hastmon"));
    await writeSchaLinks(dir, ["/newer/hastmon"], true);
    assert((await Deno.readTextFile(`${dir}/scha_resource_setstatus`)).includes("/newer/hastmon"));
    assertEquals([...Deno.readDirSync(dir)].length, 3, "no temporary file is left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scha-links: shell quoting", () => {
  assertEquals(shellQuote("plain"), "'plain'");
  assertEquals(shellQuote("it's"), `'it'\\''s'`);
  assertEquals(
    wrapperScript(["/usr/sbin/hastmon"], "scha_control").split("\n").at(-2),
    `exec '/usr/sbin/hastmon' scha_control "$@"`,
  );
});
