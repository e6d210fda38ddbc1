"""The template against what really exists: workspace packages, the ASL and its placeholders.

These fail until every function package and statemachine/remediation.asl.json exist, by design:
the template deploys seven functions and one workflow, and a stack that names a binary nobody
builds, or a placeholder nobody substitutes, fails at deploy time, far from here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import iac_tools


def test_every_template_function_is_a_workspace_package_with_a_binary_of_that_name_and_vice_versa(functions) -> None:
    packages = iac_tools.function_packages()
    in_template = {iac_tools.binary_of(f) for f in functions.values()}
    missing = sorted(in_template - set(packages))
    assert not missing, f"template.yaml deploys {missing} but no workspace package functions/<dir> is named so"
    extra = sorted(set(packages) - in_template)
    assert not extra, f"functions/ has packages {extra} that template.yaml does not deploy"
    for name, pkg in packages.items():
        bins = [t["name"] for t in pkg["targets"] if "bin" in t["kind"]]
        assert bins == [name], f"package {name} must build exactly one binary named {name}, builds {bins}"


def test_every_function_directory_is_a_workspace_member() -> None:
    packages = iac_tools.function_packages()
    dirs = {p["manifest_path"].split("/")[-2] for p in packages.values()}
    on_disk = iac_tools.function_dirs_on_disk()
    assert on_disk == dirs, f"functions/ directories outside the workspace members: {sorted(on_disk - dirs)}"


def _asl_text() -> str:
    assert iac_tools.ASL.exists(), f"{iac_tools.ASL.relative_to(iac_tools.ROOT)} does not exist yet"
    return iac_tools.ASL.read_text(encoding="utf-8")


def test_asl_placeholders_and_definition_substitutions_match(tpl) -> None:
    placeholders = iac_tools.asl_placeholders(_asl_text())
    subs = set(tpl["Resources"]["RemediationStateMachine"]["Properties"]["DefinitionSubstitutions"])
    assert not placeholders - subs, f"ASL placeholders never substituted: {sorted(placeholders - subs)}"
    assert not subs - placeholders, f"DefinitionSubstitutions the ASL never uses: {sorted(subs - placeholders)}"


def _walk_states(states: dict[str, Any]):
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _walk_states(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _walk_states(state[key]["States"])


def test_every_lambda_task_of_the_asl_invokes_a_function_of_the_template(tpl) -> None:
    asl = json.loads(_asl_text())
    subs = tpl["Resources"]["RemediationStateMachine"]["Properties"]["DefinitionSubstitutions"]
    targets = set()
    for name, state in _walk_states(asl["States"]):
        if state.get("Type") != "Task" or "lambda" not in state.get("Resource", ""):
            continue
        fn = (state.get("Parameters") or state.get("Arguments") or {}).get("FunctionName", state["Resource"])
        placeholder = fn.removeprefix("${").split("}")[0] if fn.startswith("${") else None
        assert placeholder in subs, f"state {name}: FunctionName {fn!r} is not a substituted function ARN"
        ref = subs[placeholder]
        assert isinstance(ref, dict) and "Fn::GetAtt" in ref, f"state {name}: {placeholder} is not a function ARN"
        targets.add(ref["Fn::GetAtt"][0])
        assert state.get("TimeoutSeconds"), f"state {name}: every Task needs TimeoutSeconds"
    assert targets, "the ASL invokes no Lambda"
    assert "DetectorFunction" not in targets and "ApprovalFunction" not in targets


# Configuration reads in a function package (autoheal_lambda::env helpers or std::env::var).
_ENV_READ = re.compile(
    r'\b(?:required|optional|parsed_or|parsed|validated|var|var_os)\s*(?:::<[^>]*>)?'
    r'\(\s*(?:&?[A-Za-z_][\w:]*\s*,\s*)?"([A-Z][A-Z0-9_]{2,})"'
)


def env_vars_read(package_dir: Path) -> set[str]:
    names: set[str] = set()
    for rs in sorted((package_dir / "src").rglob("*.rs")):
        code = rs.read_text(encoding="utf-8").split("#[cfg(test)]", 1)[0]  # tests set variables, not read them
        names |= set(_ENV_READ.findall(code))
    # AWS_* are the runtime's own (region, credentials, log format), never set by the template.
    return {n for n in names if not n.startswith("AWS_")}


def test_every_function_is_given_exactly_the_environment_it_reads(functions) -> None:
    packages = iac_tools.function_packages()
    checked = 0
    for lid, fn in functions.items():
        name = iac_tools.binary_of(fn)
        if name in packages:
            package_dir = Path(packages[name]["manifest_path"]).parent
        elif (iac_tools.FUNCTIONS / name / "src").is_dir():
            package_dir = iac_tools.FUNCTIONS / name  # not a workspace member yet: reported above
        else:
            continue  # no package at all: reported by the workspace cross-check above
        read = env_vars_read(package_dir)
        # A function that reads its configuration through another function's (safety-net through
        # kafka-ops') reads that one's variables too.
        for dep in (packages.get(name) or {}).get("dependencies", []):
            if dep["name"] in packages and dep.get("path"):
                read |= env_vars_read(Path(dep["path"]))
        given = set(((fn["Properties"].get("Environment") or {}).get("Variables")) or {})
        assert given == read, (
            f"{name}: template.yaml sets {sorted(given - read)} that the function never reads, "
            f"and the function reads {sorted(read - given)} that template.yaml never sets"
        )
        checked += 1
    assert checked, "no function package to check"


def test_env_var_extraction_sees_the_helpers_and_std_env(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text(
        'let a = required(src, "STATE_MACHINE_ARN")?;\nlet b = parsed_or::<Mode>(src, "MODE", d)?;\n'
        'let c = std::env::var("PLAN_BUCKET");\nlet d = optional(&env, "TOPIC_ARN");\n'
        'let r = std::env::var("AWS_REGION");\nlet t = required(&ProcessEnv, "TOPIC_ARN_2")?;\n'
        'let v = validated::<u32>(src, "MAX_MOVES", optional(src, "MAX_MOVES"))?;\n#[cfg(test)]\nmod t { fn f() { required(s, "ONLY_IN_TESTS"); } }\n'
    )
    assert env_vars_read(tmp_path) == {"STATE_MACHINE_ARN", "MODE", "PLAN_BUCKET", "TOPIC_ARN", "TOPIC_ARN_2", "MAX_MOVES"}


def test_every_function_times_out_before_the_task_that_invokes_it(tpl, functions) -> None:
    """A Lambda slower than its Task's TimeoutSeconds would surface as States.Timeout with the
    function still running; its own timeout must come first."""
    asl = json.loads(_asl_text())
    subs = tpl["Resources"]["RemediationStateMachine"]["Properties"]["DefinitionSubstitutions"]
    for name, state in _walk_states(asl["States"]):
        fn = ((state.get("Parameters") or {}).get("FunctionName") or "") if state.get("Type") == "Task" else ""
        if not fn.startswith("${"):
            continue
        lid = subs[fn[2:-1]]["Fn::GetAtt"][0]
        timeout = functions[lid]["Properties"]["Timeout"]
        assert timeout < state["TimeoutSeconds"], (
            f"state {name}: {lid} Timeout {timeout}s is not below the Task's TimeoutSeconds {state['TimeoutSeconds']}s"
        )
