"""A large signed registry for client benchmarks, made from a real built one.

``synthesize(dist_dir, out_dir, count, key)`` takes the ``registry.json`` that
``registry build`` wrote into *dist_dir*, and writes into *out_dir* a
registry of *count* packs: every real pack entry repeated under new names
(``<pack>-<word>-<n>``) with a varied description and keywords, so a search
has realistic text to scan. The archives are those of *dist_dir* (entries
point at them), and the index is signed with the Ed25519 *key* like a real
build. Also writes ``registry.yaml``, the same index as YAML.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from pathlib import Path

import yaml

from registry_tools.signing.keys import KeySigner

WORDS = ("variant", "assembly", "single-cell", "metagenomics", "proteomics", "imaging", "seismic", "ocean",
         "atmosphere", "turbulence", "quantum", "chemistry", "materials", "neuroscience", "epidemiology",
         "hydrology", "wildfire", "cosmology", "spectroscopy", "genomics", "transformer", "diffusion",
         "graph", "molecular", "dynamics", "lidar", "satellite", "agriculture", "economics", "linguistics")


def synthesize(dist_dir: Path, out_dir: Path, count: int, key: Path, seed: int = 7) -> dict:
    index = json.loads((dist_dir / "registry.json").read_text(encoding="utf-8"))
    bases = [(section, name, entry) for section in ("domains", "community_packs")
             for name, entry in sorted(index[section].items())]
    rng = random.Random(seed)
    sections: dict[str, dict] = {"domains": {}, "community_packs": {}}
    for n in range(count):
        section, base, entry = bases[n % len(bases)]
        extra = rng.sample(WORDS, 3)
        name = f"{base}-{extra[0]}-{n:05d}"
        sections[section][name] = {
            **copy.deepcopy(entry),  # no shared objects: YAML would write them once, as aliases
            "name": f"{entry['name']} ({extra[0].replace('-', ' ')} {n})",
            "description": f"{entry['description']} Tuned for {extra[1]} and {extra[2]} workloads.",
            "keywords": [*entry.get("keywords", []), *extra],
        }
    index.update(sections, serial=index["serial"] + 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    if (dist_dir / "packs").is_dir() and not (out_dir / "packs").exists():
        shutil.copytree(dist_dir / "packs", out_dir / "packs")
    data = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
    (out_dir / "registry.json").write_bytes(data)
    KeySigner(key).sign_file(out_dir / "registry.json")
    (out_dir / "registry.yaml").write_text(yaml.safe_dump(index, sort_keys=True), encoding="utf-8")
    return index
