#!/usr/bin/env bash
# Resolves Apache Kafka (broker + CLI tools) from Maven Central into .cache/kafka/<version>/libs.
# Idempotent: a stamp keyed on pom.xml makes later runs a no-op that touches no network.
# Prints the libs directory on stdout (so callers can `LIBS=$(local/kafka/fetch.sh)`).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
POM="$HERE/pom.xml"
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
[ -n "$VERSION" ] || { echo "fetch.sh: no <kafka.version> in $POM" >&2; exit 2; }
DEST="${KAFKA_CACHE_DIR:-$ROOT/.cache/kafka}/$VERSION"
STAMP="$DEST/.complete"
WANT=$(sha256sum "$POM" | cut -c1-16)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -f "$DEST/libs/kafka_2.13-$VERSION.jar" ]; then
  echo "$DEST/libs"
  exit 0
fi

command -v mvn >/dev/null || { echo "fetch.sh: mvn not found (apt-get install maven)" >&2; exit 1; }
echo "[kafka] resolving Apache Kafka $VERSION from Maven Central into $DEST/libs" >&2
TMP="$DEST/libs.tmp.$$"
trap 'rm -rf "$TMP"' EXIT
rm -rf "$TMP"
mkdir -p "$TMP"
# -B: no colours/progress in logs; runtime scope = what the official distribution's libs/ holds.
mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$TMP" >&2
[ -f "$TMP/kafka_2.13-$VERSION.jar" ] || { echo "fetch.sh: kafka_2.13-$VERSION.jar missing after mvn" >&2; exit 1; }
rm -rf "$DEST/libs"
mv "$TMP" "$DEST/libs"
echo "$WANT" > "$STAMP"
echo "$DEST/libs"
