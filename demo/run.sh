#!/usr/bin/env bash
# make demo: one synthetic night end to end with the real esorex recipes, as an operator would run it.
#   demo/run.sh NACO|UVES   (environment: BIN, DEMO, DEMO_DATE, DEMO_NOW, DEMO_NIGHT_NOW, SERVE, PORT)
# NACO (the default): calibrations and SCIENCE: darks, twilight flats, a standard star, three jittered fields
#   coadded by naco_img_jitter, certified, moved to $DFO_SCI_DIR and ingested.
# UVES: the calibration night (biases, darks, flats; its arcs and science lack static line tables).
set -euo pipefail
INSTRUMENT=${1:-NACO}
BIN=${BIN:-.venv/bin}
DEMO=${DEMO:-demo-workspace}
DATE=${DEMO_DATE:-2013-02-12}
NOW=${DEMO_NOW:-2013-02-13T14:00:00}
NIGHT_NOW=${DEMO_NIGHT_NOW:-2013-02-12T23:59:00}
dfos() { DFOS_ROOT="$DEMO" "$BIN/dfos" "$@"; }
afternoon() { DFOS_NOW="$NOW" dfos "$@"; }
say() { printf '\n== %s\n' "$*"; }

case "$INSTRUMENT" in
  NACO|naco) INSTRUMENT=NACO; FLAT_AB="NACO.${DATE}T22:40:00.112_tpl.ab"; SCIENCE_AB="NACO.$(date -d "$DATE + 1 day" +%F)T01:30:00.512_tpl.ab" ;;
  UVES|uves) INSTRUMENT=UVES; FLAT_AB="UVES.${DATE}T21:52:00.500_tpl.ab"; SCIENCE_AB="" ;;
  *) echo "Error: make demo INSTRUMENT=$INSTRUMENT: choose NACO or UVES" >&2; exit 2 ;;
esac

rm -rf "$DEMO"
"$BIN/dfos" init "$DEMO" --instrument "$INSTRUMENT"
for batch in 1 2 3 4; do
  say "$DATE, evening and night: part $batch of 4 of the $INSTRUMENT frames reaches the archive"
  DFOS_NOW="$NIGHT_NOW" dfos demo-data --date "$DATE" --batches 4
  say "auto-daily (cron would start it every hour): CALIB first, then SCIENCE"
  DFOS_NOW="$NIGHT_NOW" dfos auto-daily
done
say "the next afternoon: auto-daily finds nothing new and closes the night"
afternoon auto-daily
dfos explain "$FLAT_AB"
[ -n "$SCIENCE_AB" ] && dfos explain "$SCIENCE_AB"
dfos cascade-stat --dag-id "CALIB_$DATE"
[ -n "$SCIENCE_AB" ] && dfos cascade-stat --dag-id "SCIENCE_$DATE"
echo "products:"; (cd "$DEMO/products" && find . -name '*.fits' | sort | sed 's|^\./|  |')
dfos health

say "certify: green ABs at once, those without scores by a person (a decision file)"
if [ "$INSTRUMENT" = UVES ]; then
  printf '%s\n' "UVES.${DATE}T21:50:00.500_frm.ab accept orders found" \
    "$FLAT_AB accept flat looks fine" > "$DEMO/decisions.txt"
  afternoon certify -m CALIB -d "$DATE" --accept-green --decisions "$DEMO/decisions.txt" --user demo
  afternoon move -m CALIB -d "$DATE"
else
  for mode in CALIB SCIENCE; do
    # every AB still without a decision after --accept-green is looked at and accepted by the demo's "person"
    afternoon certify -m "$mode" -d "$DATE" --accept-green --user demo
    afternoon certify -m "$mode" -d "$DATE" --no-interactive --user demo 2>/dev/null \
      | awk '$3 == "undecided" {print $4 " accept looked at it"}' > "$DEMO/decisions_$mode.txt" || true
    [ -s "$DEMO/decisions_$mode.txt" ] && afternoon certify -m "$mode" -d "$DATE" --user demo \
      --decisions "$DEMO/decisions_$mode.txt"
    afternoon move -m "$mode" -d "$DATE"
    afternoon ingest -m "$mode" -d "$DATE"
  done
  echo "science products:"; (cd "$DEMO/reduced/$DATE" && ls -1 *.fits | sed 's|^|  |')
fi
afternoon status
if [ "${SERVE:-1}" = 0 ]; then
  afternoon monitor export "$DEMO/export"
  echo "static monitor: $DEMO/export/index.html"
else
  afternoon monitor serve --port "${PORT:-8080}"
fi
