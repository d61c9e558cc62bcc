"""The training scene as standalone MJCF plus the mesh/texture files it references, verified to compile."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import mujoco
import numpy as np

from roboforge.utils.errors import NotFoundError, UserInputError

ASSET_DIR = "scene_assets"


SOLVER_OPTIONS = ("timestep", "iterations", "ls_iterations")
"""Options the sim config sets on the compiled model (`sim/factory.py`), not in the scene's spec."""


def scene_mjcf(env: Any) -> tuple[str, dict[str, bytes]]:
    """MJCF text of the env's compiled scene with the solver settings training ran with (the timestep is also
    in the metadata; without them the runtime would simulate the robot file's own, e.g. Menagerie's 100 solver
    iterations instead of a locomotion task's 10), and the files it loads that the scene itself made: each
    height field given as data (a generated terrain's tiles) moves into `<name>.bin`, MuJoCo's binary height
    field file, with the training model's own float32 samples; inline, a 100 m x 180 m terrain is 12 MB of text."""
    spec = env.scene.spec.copy()
    for name in SOLVER_OPTIONS:
        setattr(spec.option, name, getattr(env.scene.model.opt, name))
    return hfields_to_files(spec.to_xml(), env.scene.model)


def hfields_to_files(xml: str, model: mujoco.MjModel) -> tuple[str, dict[str, bytes]]:
    """`xml` with every named height field given by `elevation` data read from a file instead (int32 nrow,
    int32 ncol, float32 samples in MuJoCo's order, taken from the compiled `model`), and those files."""
    if "<hfield" not in xml:
        return xml, {}
    root = ElementTree.fromstring(xml)
    files: dict[str, bytes] = {}
    for element in root.iter("hfield"):
        name = element.get("name")
        if name is None or "elevation" not in element.attrib:
            continue
        hfield = model.hfield(name)
        for key in ("elevation", "nrow", "ncol"):
            element.attrib.pop(key, None)
        file = f"{name}.bin"
        header = struct.pack("<ii", int(hfield.nrow[0]), int(hfield.ncol[0]))
        files[file] = header + np.asarray(hfield.data, dtype="<f4").tobytes()
        element.set("file", file)
    return ElementTree.tostring(root, encoding="unicode"), files


def terrain_patches(env: Any) -> dict[str, list] | None:
    """The env's generated terrain patches row by row (`TerrainSpec`: origins, levels, kinds); None without one."""
    terrain = getattr(env.scene, "terrain", None)
    if terrain is None or not terrain.has_height_field:
        return None
    rows, cols = terrain.num_rows, terrain.num_cols
    kinds = terrain.patch_kinds().reshape(-1).tolist()
    return {
        "origins": terrain.terrain_origins.reshape(-1, 3).cpu().tolist(),
        "levels": [row for row in range(rows) for _ in range(cols)],
        "kinds": [terrain.kind_names[k] for k in kinds],
    }


def scene_assets(env: Any) -> dict[str, bytes]:
    """Files the scene's meshes, textures, height fields and skins load, by the name the MJCF uses."""
    assets: dict[str, bytes] = {}
    for name, cfg in env.cfg.scene.entities.items():
        spec = cfg.spawn.load()
        base = Path(spec.modelfiledir or ".")
        groups = [(spec.meshes, spec.meshdir), (spec.skins, spec.meshdir), (spec.hfields, spec.meshdir)]
        groups.append((spec.textures, spec.texturedir))
        for items, folder in groups:
            for item in items:
                file = getattr(item, "file", "")
                if not file:
                    continue
                path = base / (folder or "") / file
                if not path.is_file():
                    raise NotFoundError(f"Entity {name!r}: asset file {path} not found for the export.")
                data = path.read_bytes()
                if assets.get(file, data) != data:
                    raise UserInputError(
                        f"Two entities use different files named {file!r}; rename one to export."
                    )
                assets[file] = data
    return assets


def verify_scene(xml: str, assets: dict[str, bytes], timestep: float) -> mujoco.MjModel:
    """Compile the standalone scene as the deploy runtime will; an error here names MuJoCo's reason."""
    try:
        model = mujoco.MjModel.from_xml_string(xml, assets)
    except Exception as err:
        raise UserInputError(f"The exported scene MJCF does not compile on its own: {err}") from err
    model.opt.timestep = timestep
    return model


def write_scene(out_dir: Path, xml: str, assets: dict[str, bytes]) -> list[Path]:
    """Write `scene.xml` and `scene_assets/<file>`; returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "scene.xml"]
    paths[0].write_text(xml)
    for file, data in assets.items():
        path = out_dir / ASSET_DIR / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths
