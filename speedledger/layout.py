"""Where each top-level folder lives in the `speedledger` namespace, and what a MicroPython board gets.

The one home of this map: setup.py, `make typecheck`, edge/board/typecheck.sh, the MicroPython test
and the board install (docs/edge.md) all read it. Standard library only: setup.py runs it before
anything is installed.

    python -m speedledger.layout board DIR         # copy the board's files into DIR as on the device
    python -m speedledger.layout namespace DIR     # link the namespace to the sources (mypy, checkout)
    python -m speedledger.layout board-typing DIR  # link the board's files and typing-only modules
"""

import importlib.util
import shutil
import sys
from pathlib import Path

#: The repository root, when running from a checkout.
ROOT = Path(__file__).resolve().parents[1]
#: Top-level folders installed as `speedledger.<folder>` (`speedledger/` itself is the root package).
SUBPACKAGES = ("central", "edge", "simulator", "shared")
#: What a board runs, as paths in the repository; each is installed at `speedledger/<path>` on the
#: device, with the `__init__.py` of every package above it.
BOARD_MODULES = (
    "shared/canonical.py",
    "shared/keys.py",
    "shared/passage.py",
    "shared/plates.py",
    "shared/retained_speed.py",
    "shared/topics.py",
    "shared/violation.py",
    "edge/core/config.py",
    "edge/core/ed25519.py",
    "edge/core/journal.py",
    "edge/core/keyfile.py",
    "edge/core/outbox.py",
    "edge/core/passage.py",
    "edge/core/radar.py",
    "edge/core/rejection.py",
    "edge/core/sntp.py",
    "edge/core/tracker.py",
    "edge/core/violation.py",
    "edge/board/frontend.py",
    "edge/board/main.py",
    "edge/board/ntp.py",
)
#: Protocols the board code imports only under TYPE_CHECKING: type-checked with it, never copied.
BOARD_TYPING_MODULES = ("edge/core/ports.py", "edge/board/mqtt_client.py")


def board_files(with_typing: bool = False) -> dict[str, str]:
    """Device path -> repository path of every file a board gets, package `__init__.py` files included."""
    files = {"speedledger/__init__.py": "speedledger/__init__.py"}
    for source in BOARD_MODULES + (BOARD_TYPING_MODULES if with_typing else ()):
        parts = source.split("/")
        for depth in range(1, len(parts)):
            package = "/".join(parts[:depth]) + "/__init__.py"
            files["speedledger/" + package] = package
        files["speedledger/" + source] = source
    return files


def installed_file(device_path: str) -> Path:
    """Where the installed package (wheel or editable) keeps the file a board has at `device_path`."""
    module = device_path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"{module}: not installed")
    return Path(spec.origin)


def copy_board(target: Path) -> list[str]:
    """Copy the board's files into `target`, laid out as on the device; returns their device paths."""
    for device_path in board_files():
        destination = target / device_path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(installed_file(device_path), destination)
    return list(board_files())


def link_namespace(target: Path) -> None:
    """`target/speedledger` mirroring the installed namespace with links into the checkout (for mypy)."""
    package = target / "speedledger"
    package.mkdir(parents=True)
    for entry in (ROOT / "speedledger").iterdir():
        (package / entry.name).symlink_to(entry)
    for folder in SUBPACKAGES:
        (package / folder).symlink_to(ROOT / folder)


def link_board(target: Path) -> None:
    """The board's files and typing-only modules under `target`, linked into the checkout (for mypy)."""
    for device_path, source in board_files(with_typing=True).items():
        (target / device_path).parent.mkdir(parents=True, exist_ok=True)
        (target / device_path).symlink_to(ROOT / source)


def main(arguments: list[str]) -> int:
    commands = ("board", "namespace", "board-typing")
    if len(arguments) != 2 or arguments[0] not in commands:
        print(f"usage: python -m speedledger.layout {{{'|'.join(commands)}}} DIR", file=sys.stderr)
        return 2
    command, target = arguments[0], Path(arguments[1])
    try:
        if command == "board":
            print("\n".join(copy_board(target)))
        elif command == "namespace":
            link_namespace(target)
        else:
            link_board(target)
    except (LookupError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
