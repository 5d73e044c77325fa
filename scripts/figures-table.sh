#!/bin/sh
# Turns the FIGURE lines that the multi-process and multi-instance tests print into one Markdown table: a row per
# scenario and figure, a column per store (in the order they first appear). A figure printed more than once for a
# store (one line per round) shows every value, separated by " · ".
#
#   ./mvnw verify
#   grep -h '^FIGURE ' */target/*-reports/*-output.txt | scripts/figures-table.sh
set -eu
awk '
$1 == "FIGURE" && NF >= 4 {
    store = $2
    scenario = $3
    if (!(store in seenStore)) {
        seenStore[store] = 1
        stores[++storeCount] = store
    }
    for (i = 4; i <= NF; i++) {
        eq = index($i, "=")
        if (eq == 0) {
            continue
        }
        row = scenario " " substr($i, 1, eq - 1)
        if (!(row in seenRow)) {
            seenRow[row] = 1
            rows[++rowCount] = row
        }
        key = row SUBSEP store
        value = substr($i, eq + 1)
        if (key in cell) {
            value = cell[key] " · " value
        }
        cell[key] = value
    }
}
END {
    printf "| scenario | figure |"
    for (s = 1; s <= storeCount; s++) printf " %s |", stores[s]
    printf "\n|---|---|"
    for (s = 1; s <= storeCount; s++) printf "---|"
    printf "\n"
    for (r = 1; r <= rowCount; r++) {
        split(rows[r], part, " ")
        printf "| %s | `%s` |", part[1], part[2]
        for (s = 1; s <= storeCount; s++) {
            key = rows[r] SUBSEP stores[s]
            printf " %s |", (key in cell) ? cell[key] : ""
        }
        printf "\n"
    }
}' "$@"
