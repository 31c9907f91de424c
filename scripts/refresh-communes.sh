#!/usr/bin/env bash
# Regenerate src/civicloud/domain/data/communes.tsv.gz, the official list of INSEE commune codes
# (Code officiel géographique) that site INSEE codes are checked against.
#
# The source is the npm package @etalab/decoupage-administratif (MIT, Etalab / data.gouv.fr), one major
# version per millésime of the COG (its README has the table: 2026 is 6.0.0). Once a year, when INSEE
# publishes the new COG (January) and Etalab the matching package:
#
#   scripts/refresh-communes.sh 6.0.0 2026      # npm version, millésime
#
# then run tests/unit/test_site_rules.py, update the millésime in domain/sites.py's messages if it changed,
# and commit the new file. Needs npm, tar and python3 (standard library only).
set -euo pipefail

version="${1:?usage: $0 NPM_VERSION MILLESIME (e.g. 6.0.0 2026)}"
millesime="${2:?usage: $0 NPM_VERSION MILLESIME (e.g. 6.0.0 2026)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/src/civicloud/domain/data/communes.tsv.gz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "@etalab/decoupage-administratif@$version" >/dev/null)
tar -xzf "$work"/etalab-decoupage-administratif-"$version".tgz -C "$work" package/data/communes.json

python3 - "$work/package/data/communes.json" "$out" "$version" "$millesime" <<'PY'
import gzip, json, sys

source, out, version, millesime = sys.argv[1:]
kept = ("commune-actuelle", "arrondissement-municipal", "commune-deleguee", "commune-associee")
with open(source, encoding="utf-8") as f:
    communes = json.load(f)
rows = sorted({(c["code"], c["type"], c["nom"]) for c in communes if c["type"] in kept})
for code, _type, name in rows:
    assert len(code) == 5 and "\t" not in name and "\n" not in name, (code, name)
lines = [f"# INSEE commune codes, COG millésime {millesime}, from npm @etalab/decoupage-administratif@{version} "
         "data/communes.json (MIT, Etalab / data.gouv.fr); made by scripts/refresh-communes.sh",
         "code\ttype\tname"]
lines += ["\t".join(row) for row in rows]
# mtime=0 and no file name in the header: the same input gives the same bytes.
with open(out, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
    gz.write(("\n".join(lines) + "\n").encode("utf-8"))
print(f"{out}: {len(rows)} codes of millésime {millesime}")
PY
