"""`sam build` produces every function of the stack: an arm64 `bootstrap` per function, built by
cargo-lambda from the workspace (CodeUri '.', Metadata.BuildProperties.Binary).

sam build runs `cargo lambda build --release --arm64 --bin <Binary>` once per function at the
workspace root, into the shared target/ directory: after the one `cargo lambda build --release
--arm64 -p ...` that `make build` (and CI) runs, each of these finds its binary fresh and only
copies it, so this test costs seconds, not a second release build.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import iac_tools

EM_AARCH64 = 183


def _elf_machine(path: Path) -> int:
    head = path.read_bytes()[:20]
    assert head[:4] == b"\x7fELF", f"{path} is not an ELF executable"
    return int.from_bytes(head[18:20], "little")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam-build")
    started = time.monotonic()
    iac_tools.run([str(iac_tools.SAM_VENV / "bin" / "sam"), "build", "--template", str(iac_tools.TEMPLATE),
                   "--build-dir", str(build_dir), "--region", "us-east-1"],
                  what="sam build", timeout=3600)
    print(f"sam build took {time.monotonic() - started:.1f} s")
    return build_dir


def test_sam_build_produces_an_arm64_bootstrap_for_every_function(built: Path, functions) -> None:
    for lid, fn in functions.items():
        bootstrap = built / lid / "bootstrap"
        assert bootstrap.is_file(), f"sam build made no {lid}/bootstrap"
        assert bootstrap.stat().st_mode & 0o111, f"{lid}/bootstrap is not executable"
        assert _elf_machine(bootstrap) == EM_AARCH64, f"{lid}/bootstrap is not an aarch64 binary"
        # The binary is the function's own, not another package's: the same bytes cargo-lambda made.
        target = Path(os.environ.get("CARGO_TARGET_DIR") or iac_tools.ROOT / "target")
        made = target / "lambda" / iac_tools.binary_of(fn) / "bootstrap"
        assert made.read_bytes() == bootstrap.read_bytes(), f"{lid}: sam build shipped another binary"
    built_template = iac_tools.load_cfn_yaml(built / "template.yaml")
    for lid in functions:
        assert built_template["Resources"][lid]["Properties"]["CodeUri"] == lid


def _features(*packages: str) -> dict[str, str]:
    """crate -> its enabled features when cargo builds exactly these packages for arm64 Lambda."""
    args = [a for p in packages for a in ("-p", p)]
    proc = iac_tools.run(["cargo", "tree", "--locked", "--target", "aarch64-unknown-linux-gnu", "-e", "normal,build",
                          "--prefix", "none", "-f", "{p}|{f}", *args], what="cargo tree", timeout=300)
    out = {}
    for line in proc.stdout.splitlines():
        if "|" in line:
            crate, feats = line.removesuffix(" (*)").split("|", 1)
            out[crate] = feats
    return out


def test_sam_build_reuses_the_one_workspace_build(functions) -> None:
    """sam build compiles one function at a time (`--bin <name>`), CI all of them in one cargo-lambda
    invocation, where cargo unifies the features of shared crates across the functions. A crate whose
    features differ between the two is compiled twice, with everything above it, and every function
    depending on it is relinked (fat LTO): minutes per function instead of seconds. Fix it by naming
    the union of features once in [workspace.dependencies] of the root Cargo.toml."""
    packages = sorted(set(iac_tools.function_packages()) & {iac_tools.binary_of(f) for f in functions.values()})
    assert packages, "no function package in the workspace"
    together = _features(*packages)
    problems = []
    for pkg in packages:
        alone = _features(pkg)
        differ = sorted(f"{crate} [{feats}] alone vs [{together[crate]}] together"
                        for crate, feats in alone.items() if together.get(crate) != feats)
        if differ:
            problems.append(f"{pkg}: " + "; ".join(differ))
    assert not problems, "sam build would recompile shared crates:\n" + "\n".join(problems)
