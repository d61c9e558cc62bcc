"""The export formats, checked before anything heavy is imported (a wrong `--format` is refused at once)."""

from __future__ import annotations

from roboforge.utils.errors import UserInputError

FORMATS = ("onnx", "jit")


def check_format(fmt: str) -> None:
    """One line naming --format and its values when `fmt` is not one of them."""
    if fmt not in FORMATS:
        raise UserInputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
