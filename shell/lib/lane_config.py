#!/usr/bin/env python3
"""lane_config.py: parse, validate and resolve a lane-config YAML for the bash substrate.

stdlib + PyYAML (python 3.8+). PyYAML is imported only when a lane-config is read; without it every
verb fails with one actionable line (`python3 -m pip install pyyaml`), never a traceback.

Only the top-level `lanes:` key is read (an `engine:` section belongs to loop-engine). Lanes: the base
lanes coord, web, infra, validate-left, validate-right, ops-top, ops-bottom, docs (in that order), then
any other lane name (a window add-lane may create: a letter, then letters, digits, _ or -; at least 2
characters) in file order. A lane is a mapping of
  harness (str, a registry name)  model (str)  cmd (str)  repo (str, a label)  role (str)
  auto_approve (bool)  kind (standing | worker; optional)
  auto_approve (bool)  sandbox (bool: run the lane under bubblewrap, see loop-tmux add-lane --sandbox)
A file `<path-base>.<hostname -s>.yaml` beside the config is merged on top, lane by lane (a lane
block there replaces the whole block). A relative first word of `cmd` (`scripts/foo.sh`,
`./x.sh`) resolves against the project root (LANE_CONFIG_PROJECT_ROOT or --project-root).

The launch of a lane: its cmd when set; else the harness's launch command from
lib/harness-registry.sh with the auto-approve flag (auto_approve: true) and the model flag applied;
else nothing (the pane keeps its shell).

CLI (used by lib/lane-config-resolver.sh):
  lane_config.py --lane-config P [--project-root R] print-resolved [--json]
  lane_config.py --lane-config P lane-launch <lane> [interactive|auto-approve|oneshot]
  lane_config.py --lane-config P lane-field <lane> <field>
  lane_config.py --lane-config P validate
  lane_config.py --lane-config P lanes
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shlex
import socket
import sys
from typing import Any, Dict, List, Optional, Tuple

sys.dont_write_bytecode = True  # never leave __pycache__ in an installed shell/lib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fsread  # noqa: E402 (after the sys.path line above)
import registry  # noqa: E402

CONTRACT_VERSION = 1
LIB_DIR = os.path.dirname(os.path.abspath(__file__))
LANES = ("coord", "web", "infra", "validate-left", "validate-right", "ops-top", "ops-bottom", "docs")
LANE_KEYS = ("harness", "model", "cmd", "repo", "role", "auto_approve", "kind", "sandbox")
STR_KEYS = ("harness", "model", "cmd", "repo", "role", "kind")
FIELDS = ("harness", "model", "cmd", "repo", "role", "auto_approve", "launch", "kind", "sandbox")
KINDS = ("standing", "worker")
# A lane name: a base lane, or any window name add-lane accepts (loop-tmux.sh checks the same rule).
LANE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]+")
MODES = ("interactive", "auto-approve", "oneshot")
PYYAML_HINT = "PyYAML is required for --lane-config: install it with `python3 -m pip install pyyaml`"
# An unquoted relative path as the first word of a cmd (scripts/x.sh, ./x, ../x): resolved against the root.
_REL_FIRST = re.compile(r"^(\s*)([A-Za-z0-9_.@%+=:,-][A-Za-z0-9_.@%+=:,/-]*/[A-Za-z0-9_.@%+=:,/-]*)(?=\s|$)")


class ConfigError(Exception):
    """A one-line, user-facing lane-config error (exit 1)."""


class UsageError(Exception):
    """A usage error (exit 2)."""


def _yaml() -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(PYYAML_HINT) from None
    return yaml


def safe_load(yaml: Any, text: str) -> Any:
    """yaml.safe_load that refuses anchors and aliases (loop_schemas' rule): a few lines of aliases
    cannot expand into a huge document; the refusal is a yaml.YAMLError."""

    class NoAliasLoader(yaml.SafeLoader):  # type: ignore[misc,name-defined]
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, "YAML aliases are not allowed", mark)
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliasLoader)


def short_hostname() -> str:
    host = os.environ.get("LANE_CONFIG_HOSTNAME") or socket.gethostname()
    return host.split(".", 1)[0]


def overlay_path(path: str) -> Optional[str]:
    """The host overlay beside PATH (`<base>.<host>.yaml`, or .yml), when it exists."""
    base, ext = os.path.splitext(path)
    if ext.lower() not in (".yaml", ".yml"):
        base = path
    host = short_hostname()
    if not host:
        return None
    for suffix in (".yaml", ".yml"):
        candidate = f"{base}.{host}{suffix}"
        if os.path.isfile(candidate) and os.path.abspath(candidate) != os.path.abspath(path):
            return candidate
    return None


def _read_lanes(path: str) -> Dict[Any, Any]:
    yaml = _yaml()
    try:
        text = fsread.read_text(path, fsread.CONFIG_CAP)
    except FileNotFoundError:
        raise ConfigError(f"lane-config {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"lane-config {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"lane-config {path}: cannot read: {exc}") from None
    try:
        doc = safe_load(yaml, text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"lane-config {path}: invalid YAML: {problem}{where}") from None
    except RecursionError:
        raise ConfigError(f"lane-config {path}: invalid YAML: nested too deeply") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"lane-config {path}: the top level must be a mapping with a 'lanes:' key")
    odd = next((key for key in doc if not isinstance(key, str)), "")
    if odd != "":  # loop_schemas.LaneConfig refuses it too: one truth of what a lane-config is
        raise ConfigError(f"lane-config {path}: top-level key {odd!r} is not a string")
    lanes = doc.get("lanes")
    if lanes is None:
        return {}
    if not isinstance(lanes, dict):
        raise ConfigError(f"lane-config {path}: 'lanes' must be a mapping of lane name to settings")
    return lanes


class LaneConfig:
    """A lane-config file merged with its host overlay (lane-level replace)."""

    def __init__(self, path: str, project_root: Optional[str] = None) -> None:
        self.path = os.path.abspath(path)
        self.overlay = overlay_path(self.path)
        lanes = dict(_read_lanes(self.path))
        if self.overlay:
            for name, block in _read_lanes(self.overlay).items():
                lanes[name] = block
        self.raw = lanes
        root = project_root if project_root is not None else os.environ.get("LANE_CONFIG_PROJECT_ROOT", "")
        self.project_root = os.path.abspath(root) if root else None

    def problems(self, harnesses: Dict[str, Dict[str, Any]]) -> Tuple[List[str], List[str], List[str]]:
        """(unknown-lane problems, other errors, warnings), one line each."""
        unknown: List[str] = []
        errors: List[str] = []
        warnings: List[str] = []
        for name, block in self.raw.items():
            if not isinstance(name, str):
                errors.append(f"lane {name!r}: lane names must be strings")
                continue
            if not is_lane_name(name):
                unknown.append(
                    f"bad lane name {name!r} (a letter, then letters, digits, _ or -; at least 2 characters)"
                )
                continue
            if block is None:
                continue
            if not isinstance(block, dict):
                errors.append(
                    f"lane {name}: must be a mapping (harness, model, cmd, repo, role, auto_approve, kind)"
                )
                continue
            for key, value in block.items():
                if not isinstance(key, str):  # loop_schemas.LaneSpec refuses it too
                    errors.append(f"lane {name}: key {key!r} is not a string")
                    continue
                if key not in LANE_KEYS:
                    warnings.append(f"lane {name}: unknown key {key!r} (ignored)")
                    continue
                if value is None:
                    continue
                if key in STR_KEYS and not isinstance(value, str):
                    errors.append(f"lane {name}: {key} must be a string, not {_type_name(value)}")
                elif key in ("auto_approve", "sandbox") and not isinstance(value, bool):
                    errors.append(f"lane {name}: {key} must be true or false, not {_type_name(value)}")
                elif key == "kind" and value != "" and value not in KINDS:
                    errors.append(f"lane {name}: invalid kind {value!r} (kinds: {', '.join(KINDS)})")
            harness = block.get("harness")
            if isinstance(harness, str) and harness and harness not in harnesses:
                errors.append(f"lane {name}: unknown harness {harness!r} (known: {' '.join(harnesses)})")
            if not _text(block.get("harness")) and not _text(block.get("cmd")):
                warnings.append(f"lane {name}: neither harness nor cmd (the pane keeps a plain shell)")
        return unknown, errors, warnings

    def check(self, harnesses: Dict[str, Dict[str, Any]], strict: bool = False) -> List[str]:
        """Raise ConfigError on errors (unknown lanes too when strict); return warnings to print."""
        unknown, errors, warnings = self.problems(harnesses)
        if strict:
            errors = unknown + errors
        else:
            warnings = [f"{u}: ignored" for u in unknown] + warnings
        if errors:  # one line, every problem on it (`validate` prints one line per problem)
            raise ConfigError(f"lane-config {self.path}: " + "; ".join(errors))
        return warnings

    def resolve(
        self, harnesses: Dict[str, Dict[str, Any]], warnings: Optional[List[str]] = None
    ) -> Dict[str, Dict[str, Any]]:
        """{lane: {harness, model, cmd, repo, role, auto_approve, launch, kind}} for the lanes present: the
        base lanes in their fixed order, then the others in file order.

        A model given to a harness without a model flag is dropped from the launch, with a line
        appended to `warnings` (when given)."""
        out: Dict[str, Dict[str, Any]] = {}
        for lane in self.lane_names():
            block = self.raw[lane] if isinstance(self.raw[lane], dict) else {}
            harness = _text(block.get("harness"))
            model = _text(block.get("model"))
            cmd = _text(block.get("cmd"))
            auto = block.get("auto_approve") is True
            if cmd is not None:
                cmd = resolve_cmd(cmd, self.project_root)
                launch: Optional[str] = cmd
            elif harness is not None:
                launch = launch_for(harnesses[harness], model, auto) or None
                if model and not model_applies(harnesses[harness]) and warnings is not None:
                    quoted = shlex.quote(model)
                    warnings.append(
                        f"lane {lane}: harness {harness} has no model flag; model {quoted} ignored"
                    )
            else:
                launch = None
            out[lane] = {
                "harness": harness,
                "model": model,
                "cmd": cmd,
                "repo": _text(block.get("repo")),
                "role": _text(block.get("role")),
                "auto_approve": auto,
                "launch": launch,
                "kind": _text(block.get("kind")),
                "sandbox": block.get("sandbox") is True,
            }
        return out

    def lane_names(self) -> List[str]:
        """The lanes present with a valid name: base lanes in the fixed order, then the rest as written."""
        rest = [n for n in self.raw if isinstance(n, str) and n not in LANES and is_lane_name(n)]
        return [n for n in LANES if n in self.raw] + rest

    def document(self, resolved: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
        return {
            "contract_version": CONTRACT_VERSION,
            "lane_config": self.path,
            "host_overlay": self.overlay,
            "project_root": self.project_root,
            "lanes": resolved,
        }


def is_lane_name(name: str) -> bool:
    return name in LANES or LANE_NAME.fullmatch(name) is not None


def _text(value: Any) -> Optional[str]:
    """A string setting, with None and "" both meaning unset.

    PyYAML reads a "\\ud83d\\ude80" escape pair as two lone surrogates; they are joined here into the
    character they spell (lone ones are kept)."""
    if isinstance(value, str) and value != "":
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return value
    return None


def _out(text: str) -> None:
    """Write to stdout as UTF-8; a lone surrogate becomes a visible \\udXXX, never a traceback."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "backslashreplace"))
    sys.stdout.buffer.flush()


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    names[dict] = "a mapping"
    return names.get(type(value), type(value).__name__)


def resolve_cmd(cmd: str, project_root: Optional[str]) -> str:
    """Make a relative first word (scripts/x.sh, also quoted: 'scripts/my tool.sh' or
    scripts/my\\ tool.sh) absolute against the project root."""
    if not project_root:
        return cmd
    m = _REL_FIRST.match(cmd)
    if m:
        path = os.path.normpath(os.path.join(project_root, m.group(2)))
        return m.group(1) + shlex.quote(path) + cmd[m.end(2) :]
    quoted = _quoted_first_word(cmd)
    if quoted is None:
        return cmd
    lead, word, end = quoted
    return lead + shlex.quote(os.path.normpath(os.path.join(project_root, word))) + cmd[end:]


# A quoted or backslash-escaped first word holding only literal text (no $, `, ~, globs or operators).
_QUOTED_FIRST = re.compile(r"""^(\s*)((?:'[^']*'|"[^"$`\\]*"|\\[^\n]|[A-Za-z0-9_.@%+=:,/-])+)(?=\s|$)""")


def _quoted_first_word(cmd: str) -> Optional[Tuple[str, str, int]]:
    """(leading blanks, the word unquoted, its end) for a quoted relative path as cmd's first word."""
    m = _QUOTED_FIRST.match(cmd)
    if not m:
        return None
    try:
        words = shlex.split(m.group(2))
    except ValueError:
        return None
    if len(words) != 1:
        return None
    word = words[0]
    if "/" not in word or word.startswith(("/", "~", "-")) or word.endswith("/"):
        return None
    return m.group(1), word, m.end(2)


def model_applies(entry: Dict[str, Any]) -> bool:
    """True when the harness's launch takes a model flag."""
    return bool(entry.get("model_flag")) and bool(entry.get("launch_cmd"))


def launch_for(entry: Dict[str, Any], model: Optional[str], auto_approve: bool) -> str:
    """The harness launch command, exactly as harness-registry.sh's harness_resolve_launch builds it."""
    out = str(entry.get("launch_cmd") or "")
    flag = str(entry.get("auto_approve_flag") or "")
    if auto_approve and flag:
        out = f"{out} {flag}"
    if model and model_applies(entry):
        out = f"{out} {entry['model_flag']} {shlex.quote(model)}"
    return out


def show(value: Any) -> str:
    """A one-line rendering for human output (control characters escaped)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- CLI -------------------------------------------------------------------------------------------------


def _parse(argv: List[str]) -> Tuple[Optional[str], Optional[str], List[str]]:
    config: Optional[str] = None
    root: Optional[str] = None
    rest: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--lane-config", "--project-root"):
            if i + 1 >= len(argv):
                raise UsageError(f"{arg} needs a value")
            if arg == "--lane-config":
                config = argv[i + 1]
            else:
                root = argv[i + 1]
            i += 2
            continue
        rest.append(arg)
        i += 1
    return config, root, rest


def _warn(lines: List[str]) -> None:
    for line in lines:
        sys.stderr.write(f"lane-config-resolver: warning: {line}\n")


def run(argv: List[str]) -> int:
    config, root, rest = _parse(argv)
    if not rest:
        raise UsageError("missing verb (print-resolved, lane-launch, lane-field, validate, lanes)")
    verb, args = rest[0], rest[1:]
    if verb not in ("print-resolved", "lane-launch", "lane-field", "validate", "lanes"):
        raise UsageError(f"unknown verb {verb!r}")
    if not config:
        raise UsageError("--lane-config <path> is required")
    want_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if want_json and verb != "print-resolved":
        raise UsageError("--json applies to print-resolved only")
    cfg = LaneConfig(config, root)
    try:
        harnesses = registry.load(LIB_DIR)
    except registry.RegistryError as exc:
        raise ConfigError(str(exc)) from None

    if verb == "validate":
        if args:
            raise UsageError("validate takes no arguments")
        unknown, errors, warnings = cfg.problems(harnesses)
        for line in unknown + errors:
            _out(f"{cfg.path}: {line}\n")
        if "coord" in cfg.raw:
            warnings.append("lane coord: loop-tmux's preset / --coord-cmd owns the coord window")
        _warn(warnings)
        if unknown or errors:
            found = unknown + errors
            # the lines above are the report (stdout); stderr says that it failed, and why first
            sys.stderr.write(
                f"lane-config-resolver: {cfg.path}: {len(found)} problem(s); the first: {found[0]}\n"
            )
            return 1
        _out(
            f"{cfg.path}: ok ({len(cfg.raw)} lane(s)"
            + (f", host overlay {cfg.overlay})\n" if cfg.overlay else ")\n")
        )
        return 0

    _warn(cfg.check(harnesses))
    notes: List[str] = []
    resolved = cfg.resolve(harnesses, notes)
    if verb == "print-resolved":
        if args:
            raise UsageError(f"print-resolved: unexpected argument {args[0]!r}")
        _warn(notes)
        if want_json:
            try:
                text = json.dumps(cfg.document(resolved), ensure_ascii=False)
                text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate (PyYAML keeps a bad \\ud83d escape as one)
                text = json.dumps(cfg.document(resolved))
            _out(text + "\n")
            return 0
        _out(f"lane-config: {show(cfg.path)}\n")
        _out(f"host overlay: {show(cfg.overlay)}\n")
        _out(f"project root: {show(cfg.project_root)}\n")
        for lane, fields in resolved.items():
            parts = " ".join(
                f"{k}={show(fields[k])}" for k in ("harness", "model", "repo", "role", "auto_approve")
            )
            _out(f"{lane:<15} {parts}\n{'':<15} launch: {show(fields['launch'])}\n")
        return 0
    if verb == "lanes":
        if args:
            raise UsageError("lanes takes no arguments")
        for lane in resolved:
            _out(lane + "\n")
        return 0
    if not args:
        raise UsageError(f"{verb}: missing <lane>")
    lane = args[0]
    if not is_lane_name(lane):
        raise UsageError(
            f"bad lane name {lane!r} (a letter, then letters, digits, _ or -; at least 2 characters)"
        )
    if lane not in resolved:
        raise ConfigError(f"lane {lane} is not in {cfg.path}")
    fields = resolved[lane]
    if verb == "lane-field":
        if len(args) != 2:
            raise UsageError("usage: lane-field <lane> <field>")
        if args[1] not in FIELDS:
            raise UsageError(f"unknown field {args[1]!r} (fields: {', '.join(FIELDS)})")
        value = fields[args[1]]
        if isinstance(value, bool):
            value = "true" if value else "false"
        _out("" if value is None else f"{value}\n")
        return 0
    # lane-launch
    if len(args) > 2:
        raise UsageError("usage: lane-launch <lane> [interactive|auto-approve|oneshot]")
    mode = args[1] if len(args) == 2 else "interactive"
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r} (modes: {', '.join(MODES)})")
    _warn([n for n in notes if n.startswith(f"lane {lane}:")] if mode != "oneshot" else [])
    launch: Optional[str]
    if mode == "interactive":
        launch = fields["launch"]
    elif fields["harness"] is None:
        raise ConfigError(f"lane {lane} has no harness, so no {mode} launch")
    elif mode == "auto-approve":
        entry = harnesses[fields["harness"]]
        launch = fields["cmd"] if fields["cmd"] is not None else launch_for(entry, fields["model"], True)
    else:
        launch = str(harnesses[fields["harness"]].get("oneshot_template") or "") or None
        if launch is None:
            raise ConfigError(f"harness {fields['harness']} has no one-shot mode")
    if launch:
        _out(launch + "\n")
    return 0


def main(argv: List[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        _out(__doc__ or "")
        return 0
    try:
        return run(argv)
    except UsageError as exc:
        sys.stderr.write(f"lane-config-resolver: {exc}\nTry 'lane-config-resolver.sh --help'.\n")
        return 2
    except ConfigError as exc:
        for line in str(exc).splitlines():
            sys.stderr.write(f"lane-config-resolver: {line}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
