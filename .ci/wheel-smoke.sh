#!/usr/bin/env bash
# CI: use netns-harness as a new user would. Builds the sdist and, from it, the wheel; then, in
# a fresh venv and an empty project outside the checkout with no git repository around them:
# `harness init`, `harness run --target local`, and pytest through the plugin beside
# pytest-embedded and pytest-testinfra (JUnit with one testcase per check, a failing check
# named in the headline, one --harness-json from two xdist workers). Last, the sdist's own
# tests run from the unpacked sdist. As root (network namespaces).
#
#   HARNESS_SMOKE_VM=1   also run one scenario in a VM booted from the packaged Vagrantfile
#                        (needs `bash .ci/bootstrap.sh --vm`; off by default)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[[ $(id -u) == 0 ]] || { echo "wheel-smoke: run as root (network namespaces)" >&2; exit 2; }

work=$(mktemp -d /tmp/netns-harness-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
if git -C "$work" rev-parse --git-dir >/dev/null 2>&1; then
  echo "wheel-smoke: $work is inside a git repository; set TMPDIR to a folder outside one" >&2
  exit 2
fi
step() { printf '\n== wheel-smoke: %s\n' "$*"; }
fail() { echo "wheel-smoke: FAILED: $*" >&2; exit 1; }

step "build the sdist, and the wheel from the sdist"
python3 -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install -q --disable-pip-version-check build
"$work/build-venv/bin/python" -m build -q --outdir "$work/dist" "$repo" >/dev/null
wheel=$(ls "$work"/dist/netns_harness-*.whl)
sdist=$(ls "$work"/dist/netns_harness-*.tar.gz)
python3 - "$wheel" <<'EOF'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["harness/templates/run.sh.j2", "harness/vagrant/Vagrantfile", "harness/box_build.sh",
        "harness/examples/client-gateway-server.yaml", "harness/__main__.py"]
missing = [n for n in need if n not in names]
license_files = [n for n in names if n.endswith("licenses/LICENSE")]
assert not missing and license_files, f"the wheel lacks {missing or 'its LICENSE'}"
EOF

step "a fresh venv with the wheel, pytest-embedded and pytest-testinfra"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel[test]" pytest-embedded pytest-testinfra
export PATH="$work/venv/bin:$PATH"
mkdir "$work/project"
cd "$work/project"
if [[ -d "$repo/.git" || -f "$repo/.git" ]]; then
  built=$(python -c 'from harness.resources import harness_commit; print(harness_commit())')
  [[ $built == "$(git -C "$repo" rev-parse HEAD)"* ]] || fail "the wheel records commit $built, not the checkout's"
fi
python -m harness --version

step "harness init; harness run --target local"
harness init
harness validate scenarios
harness run scenarios --target local --json results.json
harness schema results > results.schema.json
python - <<'EOF'
import json, jsonschema
jsonschema.validate(json.load(open("results.json")), json.load(open("results.schema.json")),
                    cls=jsonschema.Draft202012Validator)
EOF

step "pytest through the plugin: JUnit, one testcase per check, a failing check named in the headline"
sed -e 's/^name: client-gateway-server/name: wrong-ttl/' \
    -e 's/source: 10.0.100.1, count: 5, ttl: 63/source: 10.0.100.1, count: 5, ttl: 64/' \
    scenarios/client-gateway-server.yaml > scenarios/wrong-ttl.yaml
rc=0
COLUMNS=300 pytest -p no:cacheprovider -rfE --junitxml junit.xml --harness-json pytest.json \
  --harness-bundle-dir bundles > pytest.out || rc=$?
cat pytest.out
[[ $rc == 1 ]] || fail "pytest exited $rc, expected 1 (one failing check)"
grep -q "^FAILED scenarios/wrong-ttl.yaml::default routes via the gateway/client reaches server through one hop - FAIL client reaches server through one hop: replies came with ttl \[63\], expected 64" pytest.out \
  || fail "the headline does not name the failing check"
python - <<'EOF'
import json, xml.etree.ElementTree as ET
cases = list(ET.parse("junit.xml").getroot().iter("testcase"))
failed = [c.get("name") for c in cases if c.find("failure") is not None]
assert len(cases) == 22, f"{len(cases)} testcases, expected 22 (11 checks in each of 2 scenarios)"
assert failed == ["default routes via the gateway/client reaches server through one hop"], failed
names = sorted(s["name"] for s in json.load(open("pytest.json"))["scenarios"])
assert names == ["client-gateway-server", "wrong-ttl"], names
EOF

step "pytest -n 2: every worker's scenarios in one --harness-json"
rc=0
pytest -p no:cacheprovider -q -n 2 --harness-json xdist.json --harness-bundle-dir bundles || rc=$?
[[ $rc == 1 ]] || fail "pytest -n 2 exited $rc, expected 1"
python -c '
import json
names = sorted(s["name"] for s in json.load(open("xdist.json"))["scenarios"])
assert names == ["client-gateway-server", "wrong-ttl"], names'

step "the project's noxfile as written: it installs the wheel harness init ran from"
grep -qxF "HARNESS = os.environ.get(\"NETNS_HARNESS\") or '$wheel'" noxfile.py || fail "the noxfile does not install $wheel"
"$work/venv/bin/pip" install -q --disable-pip-version-check nox
nox -s scenarios -- --harness-target local -k client-gateway-server
python -c '
import json
names = sorted(s["name"] for s in json.load(open("results/scenarios.json"))["scenarios"])
assert names == ["client-gateway-server"], names'

if [[ ${HARNESS_SMOKE_VM:-0} == 1 ]]; then
  step "one scenario in a VM booted from the packaged Vagrantfile"
  [[ ! -e Vagrantfile ]] || fail "the project has a Vagrantfile; the packaged one is under test"
  harness host-setup
  harness run scenarios/client-gateway-server.yaml --target vagrant \
    --box-kernel "${HARNESS_BOX_KERNEL:-linux-image-cloud-amd64}" --destroy always
fi

step "the sdist's own tests (fast part), from the unpacked sdist"
mkdir "$work/sdist"
tar -xzf "$sdist" -C "$work/sdist"
cd "$work"/sdist/netns_harness-*/
python3 -m venv "$work/sdist-venv"
"$work/sdist-venv/bin/pip" install -q --disable-pip-version-check -e ".[test]"
"$work/sdist-venv/bin/python" -m pytest -p no:cacheprovider -q tests -m "not vm"

step "passed"
