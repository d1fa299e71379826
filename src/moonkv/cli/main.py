"""``moonkv`` console entry point."""

from __future__ import annotations

import os
import sys

from moonkv.engine import Config, ConfigFileError, load_config_text, quote, read_config_file
from moonkv.protocol import split_args


def parse_server_args(args: list[str]) -> Config:
    """redis-server's command line: ``[FILE] [--directive value ...]``, read as Redis reads it
    (the options become configuration lines after the file's); raises ConfigFileError."""
    from moonkv import commands

    commands.load()  # ``rename-command`` lines rename entries of the command table
    config = Config()
    text = ""
    if args and not args[0].startswith("-"):
        text = read_config_file(args[0])
        config.file = os.path.abspath(args[0])  # CONFIG REWRITE's, whatever `dir` is
        args = args[1:]
    load_config_text(config, text + "\n" + options_text(args))
    return config


def options_text(args: list[str]) -> str:
    """Redis's main(): ``--name`` starts a line, each other argument is appended quoted; an
    argument holding a name and its values (``"--maxmemory 700mb"``, which Redis's test suite
    sends) is appended as it is. After a bare name the next argument is its value even if it
    starts with ``--``, except for ``--save``, which then (or last) means ``save ""``."""
    out = ""
    value_given = True  # the last option has at least one argument
    for j, a in enumerate(args):
        if value_given and a.startswith("--"):
            if out:
                out += "\n"
            out += a[2:] + " "
            if len(split_args(a.encode("utf-8", "surrogateescape")) or []) == 1:
                value_given = False
                last = j == len(args) - 1
                if a.lower() == "--save" and (last or args[j + 1].startswith("--")):
                    out += '""'
                    value_given = not last
        else:
            out += quote(a) + " "
            value_given = True
    return out


USAGE = """usage: moonkv <command> [options]

commands:
  server [FILE] [--directive value ...]   run the server (default 127.0.0.1:6379, data in ./moonkv-data)
  cli [-h HOST] [-p PORT] [command ...]   talk to a server (interactive without a command)
  run FILE.lua [key ...] [-- arg ...]     run a Lua script on a server (-e SOURCE instead of
                                          FILE; --dir D or --memory: in process, no server)
  test [PATH ...]                         run Lua script tests (*_test.lua; docs/scripting.md)
  scripts                                 list the scripts cached on a server
  snapshot --dir D FILE                   write a consistent backup of a data directory
  restore --dir D FILE [--force]          load a backup into a data directory
  check --dir D [--repair]                verify (and repair) a data directory
  compact --dir D                         rewrite a data directory's log from its state
  cluster controller|up|status|failover   cluster mode through etcd (docs/cluster.md)
  --version                               the version, and which build runs (native or python)
"""


# Each tool module has ``main(command, args) -> exit code``.
_SUBCOMMANDS = {
    "cli": "client",
    "run": "client",
    "scripts": "client",
    "test": "luatest",
    "snapshot": "datadir",
    "restore": "datadir",
    "check": "datadir",
    "compact": "datadir",
    "cluster": "cluster",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd == "server":
        try:
            config = parse_server_args(rest)
        except ConfigFileError as e:
            if e.lineno:
                print(e.report(), file=sys.stderr, end="")
            else:  # a file that cannot be read: one log line, as Redis's
                print(f"{os.getpid()}:C {e.reason}", file=sys.stderr)
            return 1
        from moonkv.server import run_server

        return run_server(config)
    if cmd == "--version":
        from moonkv import REDIS_VERSION, __version__, native

        print(f"moonkv {__version__} (Redis {REDIS_VERSION} compatible, build {native.build_kind()})")
        return 0
    module = _SUBCOMMANDS.get(cmd)
    if module is not None:
        import importlib

        mod = importlib.import_module(f"moonkv.cli.{module}")
        return int(mod.main(cmd, rest))
    print(f"moonkv: unknown command '{cmd}'\n{USAGE}", file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
