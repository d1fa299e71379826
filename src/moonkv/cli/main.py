"""``moonkv`` console entry point."""

from __future__ import annotations

import os
import sys

from moonkv.engine import Config, load_config_file


def parse_server_args(args: list[str]) -> Config:
    """redis-server style: ``[FILE] [--directive value ...]``; raises ValueError on bad input."""
    config = Config()
    i = 0
    if args and not args[0].startswith("--"):
        load_config_file(config, args[0])
        config.file = os.path.abspath(args[0])  # CONFIG REWRITE's, whatever `dir` is
        i = 1
    while i < len(args):
        a = args[i]
        if not a.startswith("--") or len(a) == 2:
            raise ValueError(f"unexpected argument '{a}' (options are --<directive> <value>)")
        name = a[2:]
        values: list[str] = []
        i += 1
        while i < len(args) and not args[i].startswith("--"):
            values.append(args[i])
            i += 1
        if name.lower() == "user":  # may be given many times (engine/_aclfile.py)
            if not values:
                raise ValueError("option --user needs a user name and rules")
            config.users.append([v.encode("utf-8", "surrogateescape") for v in values])
            continue
        if config.directive(name) is None:
            raise ValueError(f"unknown option --{name}")
        if not values:
            if config.directive(name).kind == "save":  # type: ignore[union-attr]
                values = [""]
            else:
                raise ValueError(f"option --{name} needs a value")
        try:
            config.load(name, " ".join(values))
        except ValueError as e:
            raise ValueError(f"bad value for --{name}: {e}") from None
    return config


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
        except ValueError as e:
            print(f"moonkv: {e}", file=sys.stderr)
            return 2
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
