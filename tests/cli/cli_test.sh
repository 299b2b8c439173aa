#!/usr/bin/env bash
# End-to-end checks of the `tensig` command (issue 2, DESIGN.md §4).
#
#   tests/cli/cli_test.sh TENSIG DATA_DIR
#
# TENSIG is the built program, DATA_DIR holds the iisignature reference .npy
# files (tests/data). Every check prints one line ("ok N - ..."); the script
# stops with a non-zero exit at the first failure, printing what went wrong.
# Needs only bash, coreutils (od, dd, timeout) and awk: .npy inputs are
# written byte by byte with printf, and .npy outputs are read back with od.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 TENSIG DATA_DIR" >&2
    exit 2
fi
[[ -f $1 && -x $1 ]] || { echo "cli_test: $1 is not an executable" >&2; exit 2; }
[[ -d $2 ]] || { echo "cli_test: $2 is not a directory" >&2; exit 2; }
# Absolute paths: the checks run in a scratch directory.
TENSIG=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DATA=$(cd "$2" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tensig-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

checks=0
pass() {
    checks=$((checks + 1))
    printf 'ok %d - %s\n' "$checks" "$1"
}
# fail DESCRIPTION [DETAIL...]: report and stop.
fail() {
    printf 'FAIL %d - %s\n' "$((checks + 1))" "$1"
    shift
    local line
    for line in "$@"; do printf '%s\n' "$line" | sed 's/^/    /'; done
    exit 1
}

# ---- .npy helpers ---------------------------------------------------------------

# npy_byte FILE OFFSET: one unsigned byte.
npy_byte() { od -A n -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }

# npy_prefix FILE: bytes before the header text (10 for version 1, 12 for 2/3).
npy_prefix() { if [[ $(npy_byte "$1" 6) == 1 ]]; then echo 10; else echo 12; fi; }

# npy_header_len FILE: length of the header text.
npy_header_len() {
    local f=$1
    if [[ $(npy_byte "$f" 6) == 1 ]]; then
        echo $(($(npy_byte "$f" 8) + 256 * $(npy_byte "$f" 9)))
    else
        echo $(($(npy_byte "$f" 8) + 256 * $(npy_byte "$f" 9) + 65536 * $(npy_byte "$f" 10) +
            16777216 * $(npy_byte "$f" 11)))
    fi
}

# npy_header FILE: the header dictionary text.
npy_header() {
    dd if="$1" bs=1 skip="$(npy_prefix "$1")" count="$(npy_header_len "$1")" status=none
}

# npy_descr FILE / npy_shape FILE: "<f8", "(9, 30)".
npy_descr() { npy_header "$1" | sed -n "s/.*'descr': *'\([^']*\)'.*/\1/p"; }
npy_shape() { npy_header "$1" | sed -n "s/.*'shape': *\(([^)]*)\).*/\1/p"; }

# npy_values FILE: the data, one value per line (float64 or float32).
npy_values() {
    local f=$1 type
    case $(npy_descr "$f") in
        '<f8') type=f8 ;;
        '<f4') type=f4 ;;
        *) fail "npy_values: $f has an unexpected dtype '$(npy_descr "$f")'" ;;
    esac
    tail -c +$(($(npy_prefix "$f") + $(npy_header_len "$f") + 1)) "$f" | od -A n -v -t "$type" -w"${type#f}" |
        awk 'NF { print $1 }'
}

# csv_values FILE: the numbers of a CSV file, one per line, row-major.
csv_values() { tr ',' '\n' <"$1" | awk 'NF { print $1 }'; }

# npy_to_csv FILE COLUMNS: the values as CSV rows of COLUMNS numbers (od
# prints the shortest representation that reads back to the same double).
npy_to_csv() { npy_values "$1" | awk -v d="$2" '{ printf "%s%s", $1, (NR % d ? "," : "\n") }'; }

# write_npy FILE DESCR SHAPE DATA: a version-1 .npy file with a header padded
# so that the data starts at a multiple of 64 bytes; DATA is a string
# of \xHH escapes (little-endian).
write_npy() {
    local file=$1 descr=$2 shape=$3 data=$4
    local dict="{'descr': '$descr', 'fortran_order': False, 'shape': $shape, }"
    local hlen=$(((10 + ${#dict} + 1 + 63) / 64 * 64 - 10))
    local pad=$((hlen - ${#dict} - 1))
    {
        printf '\x93NUMPY\x01\x00'
        printf '%b' "\\x$(printf %02x $((hlen % 256)))\\x$(printf %02x $((hlen / 256)))"
        printf '%s%*s\n' "$dict" "$pad" ''
        printf '%b' "$data"
    } >"$file"
}

# Little-endian bytes of a few exactly representable numbers.
f8() {
    case $1 in
        0) printf '%s' '\x00\x00\x00\x00\x00\x00\x00\x00' ;;
        1) printf '%s' '\x00\x00\x00\x00\x00\x00\xf0\x3f' ;;
        2) printf '%s' '\x00\x00\x00\x00\x00\x00\x00\x40' ;;
        3) printf '%s' '\x00\x00\x00\x00\x00\x00\x08\x40' ;;
        0.5) printf '%s' '\x00\x00\x00\x00\x00\x00\xe0\x3f' ;;
        -1) printf '%s' '\x00\x00\x00\x00\x00\x00\xf0\xbf' ;;
        nan) printf '%s' '\x00\x00\x00\x00\x00\x00\xf8\x7f' ;;
        inf) printf '%s' '\x00\x00\x00\x00\x00\x00\xf0\x7f' ;;
        *) fail "f8: no bytes for $1" ;;
    esac
}
f4() {
    case $1 in
        0) printf '%s' '\x00\x00\x00\x00' ;;
        1) printf '%s' '\x00\x00\x80\x3f' ;;
        2) printf '%s' '\x00\x00\x00\x40' ;;
        3) printf '%s' '\x00\x00\x40\x40' ;;
        0.5) printf '%s' '\x00\x00\x00\x3f' ;;
        -1) printf '%s' '\x00\x00\x80\xbf' ;;
        *) fail "f4: no bytes for $1" ;;
    esac
}
# f8s / f4s VALUE...: the bytes of several numbers.
f8s() { local v; for v in "$@"; do f8 "$v"; done; }
f4s() { local v; for v in "$@"; do f4 "$v"; done; }

# ---- running and comparing --------------------------------------------------------

# run_ok DESCRIPTION ARGS...: tensig ARGS must succeed.
run_ok() {
    local what=$1 rc=0
    shift
    "$TENSIG" "$@" >run.out 2>run.err || rc=$?
    if [[ $rc -ne 0 ]]; then
        fail "$what" "tensig $* exited with $rc" "stderr: $(cat run.err)"
    fi
    if [[ -s run.err ]]; then
        fail "$what" "tensig $* wrote to stderr: $(cat run.err)"
    fi
}

# compare DESCRIPTION GOT EXPECTED RTOL ATOL: two files of numbers, one per
# line, agree: |got - expected| <= RTOL * max(|got|, |expected|) + ATOL.
compare() {
    local what=$1 got=$2 expected=$3 rtol=$4 atol=$5
    local n_got n_exp msg
    n_got=$(wc -l <"$got")
    n_exp=$(wc -l <"$expected")
    [[ $n_got -gt 0 ]] || fail "$what" "no values"
    [[ $n_got -eq $n_exp ]] || fail "$what" "$n_got values, expected $n_exp"
    if ! msg=$(paste -d ' ' "$got" "$expected" | awk -v rtol="$rtol" -v atol="$atol" '
        function abs(x) { return x < 0 ? -x : x }
        {
            a = $1 + 0; b = $2 + 0
            m = abs(a) > abs(b) ? abs(a) : abs(b)
            if (abs(a - b) > rtol * m + atol) {
                printf "value %d: got %.17g, expected %.17g", NR, a, b
                exit 1
            }
        }'); then
        fail "$what" "$msg"
    fi
}

# expect_npy DESCRIPTION FILE DESCR SHAPE: an .npy output's dtype and shape.
expect_npy() {
    local what=$1 file=$2 descr=$3 shape=$4
    [[ -f $file ]] || fail "$what" "$file was not written"
    [[ $(npy_descr "$file") == "$descr" ]] || fail "$what" "descr '$(npy_descr "$file")', expected '$descr'"
    [[ $(npy_shape "$file") == "$shape" ]] || fail "$what" "shape $(npy_shape "$file"), expected $shape"
}

# expect_error DESCRIPTION PATTERN OUTPUT ARGS...: tensig ARGS must fail
# cleanly: exit code 1..125 (no signal, no abort), nothing on stdout, exactly
# one line on stderr starting "tensig: error: " and matching the extended
# regular expression PATTERN, and no OUTPUT file (nor a temporary) left.
expect_error() {
    local what=$1 pattern=$2 output=$3 rc=0
    shift 3
    rm -f "$output" "$output".tmp-tensig
    timeout 60 "$TENSIG" "$@" >run.out 2>run.err || rc=$?
    local err
    err=$(cat run.err)
    if [[ $rc -eq 0 ]]; then
        fail "$what" "tensig $* succeeded; it should have failed"
    elif [[ $rc -eq 124 ]]; then
        fail "$what" "tensig $* did not finish within 60 s"
    elif [[ $rc -gt 125 ]]; then
        fail "$what" "tensig $* exited with $rc (a signal or crash)" "stderr: $err"
    fi
    [[ $(wc -l <run.err) -eq 1 ]] || fail "$what" "expected exactly one line on stderr, got:" "$(sed 's/^/| /' run.err)"
    [[ $err == "tensig: error: "* ]] || fail "$what" "the message does not start with 'tensig: error: ': $err"
    [[ $err != *"terminate called"* ]] || fail "$what" "uncaught exception: $err"
    grep -Eq -- "$pattern" run.err || fail "$what" "the message does not match /$pattern/: $err"
    [[ ! -s run.out ]] || fail "$what" "unexpected output on stdout: $(cat run.out)"
    [[ ! -e $output ]] || fail "$what" "the output file $output was created"
    [[ ! -e $output.tmp-tensig ]] || fail "$what" "a temporary file $output.tmp-tensig was left behind"
    pass "$what: exit $rc, \"$err\""
}

# ---- help ------------------------------------------------------------------------

for args in "--help" "sig --help" "logsig --help" "combine --help"; do
    # shellcheck disable=SC2086
    run_ok "tensig $args" $args
    grep -q "Usage" run.out || fail "tensig $args" "no usage text on stdout"
    pass "tensig $args exits 0 and prints the usage"
done

# ---- results against the iisignature references ------------------------------------

REF_PATH=$DATA/sig_L10_d2_N6_path.npy
for f in "$REF_PATH" "$DATA/sig_L10_d2_N6.npy" "$DATA/sigprefix_L10_d2_N4_path.npy" \
    "$DATA/sigprefix_L10_d2_N4.npy" "$DATA/sigcombine_d2_N6_sig1.npy" "$DATA/sigcombine_d2_N6_sig2.npy" \
    "$DATA/sigcombine_d2_N6_f64.npy" "$DATA/logsig_d2_N4_path.npy" "$DATA/logsig_d2_N4_expanded.npy"; do
    [[ -f $f ]] || fail "reference file $f is missing"
done
npy_values "$DATA/sig_L10_d2_N6.npy" >ref_sig.txt

run_ok "sig of the reference path (.npy -> .npy)" sig "$REF_PATH" sig.npy --depth 6
expect_npy "sig of the reference path (.npy -> .npy)" sig.npy '<f8' '(126,)'
npy_values sig.npy >got.txt
compare "sig of the reference path (.npy -> .npy)" got.txt ref_sig.txt 1e-12 1e-15
pass "sig of the reference path matches iisignature (.npy out: <f8, shape (126,))"

run_ok "sig of the reference path (.npy -> .csv)" sig "$REF_PATH" sig.csv --depth 6
[[ $(wc -l <sig.csv) -eq 1 ]] || fail "sig to .csv" "expected one line, got $(wc -l <sig.csv)"
csv_values sig.csv >got.txt
compare "sig of the reference path (.npy -> .csv)" got.txt ref_sig.txt 1e-12 1e-15
pass "sig of the reference path matches iisignature (.csv out, one line)"

npy_to_csv "$REF_PATH" 2 >path.csv
run_ok "sig .csv -> .csv" sig path.csv sig_from_csv.csv --depth 6
csv_values sig_from_csv.csv >got.txt
compare "sig .csv -> .csv" got.txt ref_sig.txt 1e-12 1e-15
pass "CSV in and CSV out: sig of the reference path as .csv matches iisignature"

run_ok "options before file names" sig --depth 6 "$REF_PATH" sig_before.csv
cmp -s sig.csv sig_before.csv || fail "options before file names" "output differs from options after"
run_ok "options between file names" sig -N 6 "$REF_PATH" sig_mid.csv
cmp -s sig.csv sig_mid.csv || fail "options between file names" "output differs from options after"
pass "options before, between and after the file names give the same output"

run_ok "--stream" sig "$DATA/sigprefix_L10_d2_N4_path.npy" stream.csv --depth 4 --stream
[[ $(wc -l <stream.csv) -eq 9 ]] || fail "--stream" "expected 9 rows, got $(wc -l <stream.csv)"
csv_values stream.csv >got.txt
npy_values "$DATA/sigprefix_L10_d2_N4.npy" >ref.txt
compare "--stream" got.txt ref.txt 1e-12 1e-15
run_ok "--stream (.npy)" sig --stream --depth 4 "$DATA/sigprefix_L10_d2_N4_path.npy" stream.npy
expect_npy "--stream (.npy)" stream.npy '<f8' '(9, 30)'
pass "sig --stream matches iisignature's prefix signatures (9 rows; .npy shape (9, 30))"

run_ok "combine" combine "$DATA/sigcombine_d2_N6_sig1.npy" "$DATA/sigcombine_d2_N6_sig2.npy" comb.npy --dim 2 --depth 6
expect_npy "combine" comb.npy '<f8' '(126,)'
npy_values comb.npy >got.txt
npy_values "$DATA/sigcombine_d2_N6_f64.npy" >ref.txt
compare "combine" got.txt ref.txt 1e-12 1e-15
pass "combine matches iisignature's sigcombine"

run_ok "logsig --basis expanded" logsig "$DATA/logsig_d2_N4_path.npy" logsig.csv --depth 4 --basis expanded
csv_values logsig.csv >got.txt
npy_values "$DATA/logsig_d2_N4_expanded.npy" >ref.txt
compare "logsig --basis expanded" got.txt ref.txt 1e-12 1e-15
run_ok "logsig (default basis)" logsig --depth 4 "$DATA/logsig_d2_N4_path.npy" logsig_default.csv
cmp -s logsig.csv logsig_default.csv || fail "logsig (default basis)" "differs from --basis expanded"
pass "logsig --basis expanded matches iisignature's logsig(..., 'x')"

for d in 2 3; do
    run_ok "logsig --basis lyndon (d = $d)" logsig "$DATA/logsig_d${d}_N4_path.npy" lyndon$d.npy --depth 4 --basis lyndon
    npy_values lyndon$d.npy >got.txt
    npy_values "$DATA/logsig_d${d}_N4.npy" >ref.txt
    compare "logsig --basis lyndon (d = $d)" got.txt ref.txt 1e-12 1e-15
done
pass "logsig --basis lyndon matches iisignature's logsig (d = 2, 3; N = 4)"

run_ok "logsig --basis words" logsig "$DATA/logsig_d2_N4_path.npy" words.npy --depth 4 --basis words
expect_npy "logsig --basis words" words.npy '<f8' '(8,)'
run_ok "sig2logsig" sig "$DATA/logsig_d2_N4_path.npy" s4.npy --depth 4
run_ok "sig2logsig" sig2logsig s4.npy words2.npy --dim 2 --depth 4 --basis words
npy_values words.npy >got.txt
npy_values words2.npy >ref.txt
compare "sig2logsig" got.txt ref.txt 1e-14 1e-15
for b in lyndon words expanded; do
    run_ok "logsig2sig ($b)" logsig "$DATA/logsig_d2_N4_path.npy" l_$b.npy --depth 4 --basis $b
    run_ok "logsig2sig ($b)" logsig2sig l_$b.npy s_$b.npy --dim 2 --depth 4 --basis $b
    npy_values s_$b.npy >got.txt
    npy_values s4.npy >ref.txt
    compare "logsig2sig ($b)" got.txt ref.txt 1e-13 1e-15
done
pass "sig2logsig equals logsig; logsig2sig inverts it in every basis"

run_ok "basis" basis --dim 2 --depth 4
printf '0\t1\t1\n1\t2\t2\n2\t12\t[1,2]\n3\t112\t[1,[1,2]]\n4\t122\t[[1,2],2]\n5\t1112\t[1,[1,[1,2]]]\n6\t1122\t[1,[[1,2],2]]\n7\t1222\t[[[1,2],2],2]\n' >basis_ref.txt
cmp -s run.out basis_ref.txt || fail "basis" "got:" "$(cat run.out)"
pass "basis prints iisignature's Lyndon brackets with their words"

# combine of three pieces = the whole path (Chen), through the many-operand combine.
printf '0,0\n1,0.5\n0.3,1\n' >p1.csv
printf '0.3,1\n-0.2,0.4\n' >p2.csv
printf '%s\n' '-0.2,0.4' '0.7,-0.1' '1,1' >p3.csv
{ cat p1.csv; tail -n +2 p2.csv; tail -n +2 p3.csv; } >p123.csv
for f in p1 p2 p3 p123; do run_ok "combine (three)" sig $f.csv $f.npy --depth 5; done
run_ok "combine (three)" combine p1.npy p2.npy p3.npy c123.npy --dim 2 --depth 5
npy_values c123.npy >got.txt
npy_values p123.npy >ref.txt
compare "combine (three)" got.txt ref.txt 1e-13 1e-15
pass "combine A B C is the signature of the concatenated path"

run_ok "sig-backward" sig-backward "$DATA/sigbackprop_L10_d2_N6_deriv.npy" "$DATA/sigbackprop_L10_d2_N6_path.npy" \
    sigback.npy --depth 6
expect_npy "sig-backward" sigback.npy '<f8' '(10, 2)'
npy_values sigback.npy >got.txt
npy_values "$DATA/sigbackprop_L10_d2_N6_f64.npy" >ref.txt
compare "sig-backward" got.txt ref.txt 1e-10 1e-13
pass "sig-backward matches iisignature's sigbackprop"

run_ok "logsig-backward (expanded)" logsig-backward "$DATA/sigbackprop_L10_d2_N6_deriv.npy" \
    "$DATA/sigbackprop_L10_d2_N6_path.npy" logsigback.npy --depth 6
expect_npy "logsig-backward (expanded)" logsigback.npy '<f8' '(10, 2)'
pass "logsig-backward (expanded basis) runs and keeps the path's shape"

printf '29,97\n0,57\n22,10\n68,0\n100,40\n83,90\n37,100\n12,57\n' >zero_raw.csv
run_ok "invert a path (raw PenDigits zero)" invert zero_raw.csv inv.csv --depth 12 --plot inv.svg --history hist.npy
grep -q "Hausdorff" run.out || fail "invert" "no path error printed"
awk '/Hausdorff/ { for (i = 1; i <= NF; ++i) if ($i == "Hausdorff") { v = $(i + 1); sub(",", "", v); exit !(v + 0 < 1e-8) } }' \
    run.out || fail "invert" "path not recovered: $(cat run.out)"
[[ $(wc -l <inv.csv) -eq 8 ]] || fail "invert" "expected 8 points, got $(wc -l <inv.csv)"
grep -q "<svg" inv.svg || fail "invert --plot" "no SVG written"
[[ $(npy_descr hist.npy) == '<f8' ]] || fail "invert --history" "no float64 history written"
pass "invert recovers the raw PenDigits zero exactly, writes the figure and the loss history"

run_ok "invert a signature" sig zero_raw.csv zero_sig.npy --depth 6
run_ok "invert a signature (--dim)" invert zero_sig.npy inv_from_sig.csv --depth 6 --dim 2 --points 8
pass "invert takes a flattened signature with --dim"

# csv_fields FILE: the number of fields of each line, quoted fields (RFC 4180,
# no line breaks inside) counted as one.
csv_fields() { sed 's/"\([^"]\|""\)*"/q/g' "$1" | awk -F, '{ print NF }'; }

write_npy inv_batch.npy '<f8' '(2, 3, 2)' "$(f8s 0 0 1 2 3 1 0 0 0.5 1 1 0)"
run_ok "invert a batch" invert inv_batch.npy inv_batch_out.npy --depth 6 --points 3 --report inv_rep.csv --threads 2
expect_npy "invert a batch" inv_batch_out.npy '<f8' '(2, 3, 2)'
[[ $(wc -l <inv_rep.csv) -eq 3 ]] || fail "invert --report" "expected a header and 2 rows: $(cat inv_rep.csv)"
[[ $(csv_fields inv_rep.csv | sort -u) == 10 ]] || fail "invert --report" "rows of unequal width: $(cat inv_rep.csv)"
awk -F, 'NR > 1 && $2 != 1 { exit 1 }' inv_rep.csv || fail "invert --report" "an item not ok: $(cat inv_rep.csv)"
pass "invert takes a batch (B, L, d) and writes (B, K, d) and one report row per item"

run_ok "pendigits on the built-in set" --quiet pendigits --limit 3 --report pd_rep.csv
grep -q "exact" run.out || fail "pendigits" "no summary: $(cat run.out)"
[[ $(wc -l <pd_rep.csv) -eq 4 ]] || fail "pendigits --report" "expected a header and 3 rows: $(cat pd_rep.csv)"
[[ $(csv_fields pd_rep.csv | sort -u) == 12 ]] ||
    fail "pendigits --report" "rows of unequal width (an unquoted comma?): $(cat pd_rep.csv)"
! grep -v '"insertion+lm([0-9]* points, reduced)"' pd_rep.csv | grep -q 'points, reduced' ||
    fail "pendigits --report" "a route with a comma, unquoted: $(cat pd_rep.csv)"
pass "pendigits summarises the built-in set; its report quotes fields with commas (one field each)"

# ---- closed forms and identities ---------------------------------------------------

# A straight line: level k is Δ^{⊗k}/k!, here Δ = (1, 2), depth 3.
printf '0,0\n1,2\n' >line.csv
run_ok "straight line" sig line.csv line_sig.csv --depth 3
csv_values line_sig.csv >got.txt
awk 'BEGIN {
    split("1 2", D, " ")
    n = 1; c[1] = 1; f = 1
    for (k = 1; k <= 3; k++) {
        f *= k; m = 0
        for (i = 1; i <= n; i++) for (j = 1; j <= 2; j++) nc[++m] = c[i] * D[j]
        n = m
        for (i = 1; i <= n; i++) { c[i] = nc[i]; printf "%.17g\n", c[i] / f }
    }
}' >ref.txt
compare "straight line" got.txt ref.txt 1e-15 0
pass "sig of a straight line is Δ^{⊗k}/k! (CSV in, depth 3)"

# --inverse: sig(path) ⊗ sig(path)^{-1} = 1 (Chen product through combine).
run_ok "--inverse" sig "$REF_PATH" s.npy --depth 6
run_ok "--inverse" sig "$REF_PATH" sinv.npy --depth 6 --inverse
run_ok "--inverse" combine s.npy sinv.npy unit.csv --dim 2 --depth 6
csv_values unit.csv >got.txt
awk '{ print 0 }' got.txt >ref.txt
compare "--inverse" got.txt ref.txt 0 1e-12
pass "combine(sig, sig --inverse) is the unit (all levels 0)"

# --basepoint: the same as prepending the origin.
{ echo "0,0"; cat path.csv; } >path0.csv
run_ok "--basepoint" sig "$REF_PATH" bp.csv --depth 6 --basepoint
run_ok "--basepoint" sig path0.csv bp_ref.csv --depth 6
csv_values bp.csv >got.txt
csv_values bp_ref.csv >ref.txt
compare "--basepoint" got.txt ref.txt 1e-12 1e-15
pass "sig --basepoint equals sig of the path with the origin prepended"

# A batch (B, L, d) = (2, 3, 2) gives (2, sig_length); rows are the single paths.
write_npy batch.npy '<f8' '(2, 3, 2)' "$(f8s 0 0 1 2 3 -1 1 1 0.5 2 -1 3)"
run_ok "batch" sig batch.npy batch_sig.npy --depth 3
expect_npy "batch" batch_sig.npy '<f8' '(2, 14)'
printf '0,0\n1,2\n3,-1\n' >b0.csv
printf '1,1\n0.5,2\n-1,3\n' >b1.csv
run_ok "batch" sig b0.csv b0.csv.out.csv --depth 3
run_ok "batch" sig b1.csv b1.csv.out.csv --depth 3
npy_values batch_sig.npy >got.txt
cat b0.csv.out.csv b1.csv.out.csv | tr ',' '\n' | awk 'NF { print $1 }' >ref.txt
compare "batch" got.txt ref.txt 1e-15 1e-15
pass "a batch (2, 3, 2) .npy gives (2, 14), each row the signature of its path"

# float32 in, float32 out; the values agree with the float64 computation.
write_npy path32.npy '<f4' '(3, 2)' "$(f4s 0 0 1 2 3 -1)"
run_ok "float32" sig path32.npy sig32.npy --depth 4
expect_npy "float32" sig32.npy '<f4' '(30,)'
run_ok "float32" sig b0.csv sig64.csv --depth 4
npy_values sig32.npy >got.txt
csv_values sig64.csv >ref.txt
compare "float32" got.txt ref.txt 1e-6 1e-6
run_ok "float32 --stream" sig path32.npy sig32s.npy --depth 2 --stream
expect_npy "float32 --stream" sig32s.npy '<f4' '(2, 6)'
run_ok "float32 logsig" logsig path32.npy log32.npy --depth 2
expect_npy "float32 logsig" log32.npy '<f4' '(6,)'
pass "float32 .npy in gives float32 .npy out ('<f4'), agreeing with float64 to 1e-6"

# ---- bad input: one line on stderr, exit 1..125, no output file ---------------------

write_npy nan.npy '<f8' '(3, 2)' "$(f8s 0 0 1 nan 2 2)"
expect_error "NaN in a path" 'non-finite.*nan.*\(1, 1\)' out.npy sig nan.npy out.npy --depth 3

write_npy inf.npy '<f8' '(3, 2)' "$(f8s 0 0 1 2 inf 2)"
expect_error "infinity in a path" 'non-finite.*inf.*\(2, 0\)' out.npy sig inf.npy out.npy --depth 3

printf '0,0\n1,inf\n' >inf.csv
expect_error "infinity in a CSV path" 'non-finite.*\(1, 1\)' out.csv sig inf.csv out.csv --depth 3

write_npy empty.npy '<f8' '(0, 2)' ''
expect_error "empty path (0, 2)" 'empty' out.npy sig empty.npy out.npy --depth 3

expect_error "rank-1 array as a path" 'rank 1' out.npy sig "$DATA/sig_L10_d2_N6.npy" out.npy --depth 3

write_npy rank4.npy '<f8' '(1, 1, 2, 2)' "$(f8s 0 0 1 1)"
expect_error "rank-4 array as a path" 'rank 4' out.npy sig rank4.npy out.npy --depth 3

{ printf 'NOTNUMPY'; head -c 200 "$REF_PATH" | tail -c +9; } >badmagic.npy
expect_error "corrupt .npy (bad magic)" 'magic' out.npy sig badmagic.npy out.npy --depth 3

head -c 200 "$REF_PATH" >truncated.npy
expect_error "truncated .npy (header promises more data)" 'truncated' out.npy sig truncated.npy out.npy --depth 3

head -c 60 "$REF_PATH" >trunc_header.npy
expect_error "truncated .npy header" 'truncated|corrupt' out.npy sig trunc_header.npy out.npy --depth 3

expect_error "missing input file" 'no-such-file\.npy.*cannot open' out.npy sig no-such-file.npy out.npy --depth 3

mkdir -p adir.npy
expect_error "a directory as input" 'adir\.npy.*directory' out.npy sig adir.npy out.npy --depth 3

expect_error "depth 0" 'depth must be at least 1' out.npy sig "$REF_PATH" out.npy --depth 0

write_npy d3.npy '<f8' '(2, 3)' "$(f8s 0 0 0 1 2 3)"
expect_error "depth/dimension overflow (d = 3, N = 60)" 'overflow|std::size_t' out.npy sig d3.npy out.npy --depth 60

start=$(date +%s)
expect_error "huge size refused before allocating (d = 2, N = 40)" 'memory' out.npy \
    sig "$REF_PATH" out.npy --depth 40
elapsed=$(($(date +%s) - start))
[[ $elapsed -le 10 ]] || fail "huge size refused before allocating" "took $elapsed s"
pass "huge size refused fast ($elapsed s)"

expect_error "huge logsig refused before allocating (d = 2, N = 40)" 'memory' out.npy \
    logsig "$REF_PATH" out.npy --depth 40

expect_error "non-numeric option (--depth abc)" 'depth.*abc' out.npy sig "$REF_PATH" out.npy --depth abc
expect_error "negative option (--depth -1)" 'depth.*-1' out.npy sig "$REF_PATH" out.npy --depth -1
expect_error "out-of-range option (--depth 99999999999999999999999)" 'depth.*too large' out.npy \
    sig "$REF_PATH" out.npy --depth 99999999999999999999999
expect_error "non-numeric option (--dim two)" 'dim.*two' out.npy \
    combine "$DATA/sigcombine_d2_N6_sig1.npy" "$DATA/sigcombine_d2_N6_sig2.npy" out.npy --dim two --depth 6

expect_error "unknown option" 'frobnicate' out.npy sig "$REF_PATH" out.npy --depth 3 --frobnicate
expect_error "missing --depth" 'depth' out.npy sig "$REF_PATH" out.npy
expect_error "no subcommand" 'subcommand' out.npy
expect_error "unknown subcommand" 'frobnicate' out.npy frobnicate "$REF_PATH" out.npy

expect_error "combine: signatures of the wrong length" 'length 62.*126' out.npy \
    combine "$DATA/sigcombine_d2_N6_sig1.npy" "$DATA/sigcombine_d2_N6_sig2.npy" out.npy --dim 2 --depth 5
expect_error "combine: operands of different lengths" 'length' out.npy \
    combine "$DATA/sigcombine_d2_N6_sig1.npy" "$DATA/sig_L2_d2_N3.npy" out.npy --dim 2 --depth 6

expect_error "logsig2sig: wrong length for the basis" 'length 5; got 14' out.npy \
    logsig2sig "$DATA/sig_L2_d2_N3.npy" out.npy --dim 2 --depth 3 --basis lyndon
expect_error "sig2logsig: wrong length" 'length 30; got 14' out.npy \
    sig2logsig "$DATA/sig_L2_d2_N3.npy" out.npy --dim 2 --depth 4
expect_error "combine: one file only" 'at least two' out.npy combine "$DATA/sig_L2_d2_N3.npy" out.npy --dim 2 --depth 3
expect_error "basis: depth 0" 'depth' out.npy basis --dim 2 --depth 0
expect_error "logsig --basis nonsense" 'basis' out.npy logsig "$REF_PATH" out.npy --depth 3 --basis nonsense

printf '0,0\n1,x2\n2,2\n' >nonnum.csv
expect_error "non-numeric CSV field" 'line 2, column 2.*x2' out.csv sig nonnum.csv out.csv --depth 3

printf '0,0\n1,1\n2,2,2\n' >ragged.csv
expect_error "ragged CSV rows" 'line 3' out.csv sig ragged.csv out.csv --depth 3

printf '0,0\n1,,1\n' >emptyfield.csv
expect_error "empty CSV field" 'line 2, column 2' out.csv sig emptyfield.csv out.csv --depth 3

printf '# nothing here\n\n' >nodata.csv
expect_error "CSV without data" 'no data|empty' out.csv sig nodata.csv out.csv --depth 3

cp "$REF_PATH" path.json
expect_error "unknown input extension" 'unknown file type' out.npy sig path.json out.npy --depth 3
expect_error "unknown output extension" 'unknown file type' out.json sig "$REF_PATH" out.json --depth 3
expect_error "output in a missing directory" 'no-such-dir' no-such-dir/out.npy \
    sig "$REF_PATH" no-such-dir/out.npy --depth 3

# ---- path transforms (--lead-lag, --time) and the helpers join and scale ----------------

for args in "join --help" "scale --help"; do
    # shellcheck disable=SC2086
    run_ok "tensig $args" $args
    grep -q "Usage" run.out || fail "tensig $args" "no usage text on stdout"
    pass "tensig $args exits 0 and prints the usage"
done

for f in "$DATA/sigjoin_d3_N4_sigs.npy" "$DATA/sigjoin_d3_N4_segment.npy" "$DATA/sigjoin_d3_N4_f64.npy" \
    "$DATA/sigscale_d3_N4_sigs.npy" "$DATA/sigscale_d3_N4_scales.npy" "$DATA/sigscale_d3_N4_f64.npy"; do
    [[ -f $f ]] || fail "reference file $f is missing"
done

run_ok "join" join "$DATA/sigjoin_d3_N4_sigs.npy" "$DATA/sigjoin_d3_N4_segment.npy" tb_join.npy --dim 3 --depth 4
expect_npy "join" tb_join.npy '<f8' '(120,)'
npy_values tb_join.npy >got.txt
npy_values "$DATA/sigjoin_d3_N4_f64.npy" >ref.txt
compare "join" got.txt ref.txt 1e-12 1e-15
pass "join matches iisignature's sigjoin"

run_ok "scale" scale "$DATA/sigscale_d3_N4_sigs.npy" "$DATA/sigscale_d3_N4_scales.npy" tb_scale.npy --dim 3 --depth 4
expect_npy "scale" tb_scale.npy '<f8' '(120,)'
npy_values tb_scale.npy >got.txt
npy_values "$DATA/sigscale_d3_N4_f64.npy" >ref.txt
compare "scale" got.txt ref.txt 1e-12 1e-15
pass "scale matches iisignature's sigscale"

# join: the signature of the first two points joined with the last increment
# (a one-row CSV) is the signature of the three-point path.
printf '0,0\n1,2\n3,-1\n' >tb_path.csv
printf '0,0\n1,2\n' >tb_head.csv
printf '2,-3\n' >tb_seg.csv
run_ok "join = sig of the longer path" sig tb_path.csv tb_whole.npy --depth 4
run_ok "join = sig of the longer path" sig tb_head.csv tb_head.npy --depth 4
run_ok "join = sig of the longer path" join tb_head.npy tb_seg.csv tb_joined.npy --dim 2 --depth 4
expect_npy "join = sig of the longer path" tb_joined.npy '<f8' '(30,)'
npy_values tb_joined.npy >got.txt
npy_values tb_whole.npy >ref.txt
compare "join = sig of the longer path" got.txt ref.txt 1e-14 1e-15
pass "join(sig(first two points), last increment) is the signature of the three-point path"

# join on a batch: each path extended by its own segment.
write_npy tb_batch.npy '<f8' '(2, 3, 2)' "$(f8s 0 0 1 2 3 -1 1 1 0.5 2 -1 3)"
write_npy tb_segs.npy '<f8' '(2, 2)' "$(f8s -1 0 1 -1)"
write_npy tb_batch_ext.npy '<f8' '(2, 4, 2)' "$(f8s 0 0 1 2 3 -1 2 -1 1 1 0.5 2 -1 3 0 2)"
run_ok "join (batch)" sig tb_batch.npy tb_batch_sig.npy --depth 3
run_ok "join (batch)" join tb_batch_sig.npy tb_segs.npy tb_batch_join.npy --dim 2 --depth 3
expect_npy "join (batch)" tb_batch_join.npy '<f8' '(2, 14)'
run_ok "join (batch)" sig tb_batch_ext.npy tb_batch_ext_sig.npy --depth 3
npy_values tb_batch_join.npy >got.txt
npy_values tb_batch_ext_sig.npy >ref.txt
compare "join (batch)" got.txt ref.txt 1e-14 1e-15
pass "join of a batch (2, 14) with segments (2, 2) is the signature of each extended path"

# scale: the signature of the path scaled per coordinate by (2, -1).
write_npy tb_scales.npy '<f8' '(2,)' "$(f8s 2 -1)"
printf '0,0\n2,-2\n6,1\n' >tb_scaled_path.csv
run_ok "scale = sig of the scaled path" scale tb_whole.npy tb_scales.npy tb_scaled.npy --dim 2 --depth 4
run_ok "scale = sig of the scaled path" sig tb_scaled_path.csv tb_scaled_ref.npy --depth 4
npy_values tb_scaled.npy >got.txt
npy_values tb_scaled_ref.npy >ref.txt
compare "scale = sig of the scaled path" got.txt ref.txt 1e-14 1e-15
pass "scale(sig(path), (2, -1)) is the signature of the path scaled per coordinate"

# float32 in both gives float32 out
write_npy tb_path32.npy '<f4' '(3, 2)' "$(f4s 0 0 1 2 3 -1)"
write_npy tb_seg32.npy '<f4' '(2,)' "$(f4s 2 -1)"
run_ok "join (float32)" sig tb_path32.npy tb_sig32.npy --depth 3
run_ok "join (float32)" join tb_sig32.npy tb_seg32.npy tb_join32.npy --dim 2 --depth 3
expect_npy "join (float32)" tb_join32.npy '<f4' '(14,)'
pass "join of float32 files writes float32"

# The transforms change the shape of what is signed: (3, 2) -> lead-lag (5, 4),
# time (3, 3), both (5, 5) (lead-lag first, then time).
run_ok "--lead-lag" sig tb_path.csv tb_ll.npy --depth 2 --lead-lag
expect_npy "--lead-lag" tb_ll.npy '<f8' '(20,)'
run_ok "--time" sig tb_path.csv tb_t.npy --depth 2 --time
expect_npy "--time" tb_t.npy '<f8' '(12,)'
run_ok "--lead-lag --time" sig tb_path.csv tb_llt.npy --depth 2 --lead-lag --time
expect_npy "--lead-lag --time" tb_llt.npy '<f8' '(30,)'
run_ok "--lead-lag --stream" sig tb_path.csv tb_lls.npy --depth 2 --lead-lag --stream
expect_npy "--lead-lag --stream" tb_lls.npy '<f8' '(4, 20)'
run_ok "--lead-lag --time (batch)" sig tb_batch.npy tb_bllt.npy --depth 2 --time --lead-lag
expect_npy "--lead-lag --time (batch)" tb_bllt.npy '<f8' '(2, 30)'
run_ok "logsig --lead-lag --time" logsig tb_path.csv tb_lllog.npy --depth 2 --lead-lag --time --basis expanded
expect_npy "logsig --lead-lag --time" tb_lllog.npy '<f8' '(30,)'
pass "--lead-lag, --time and both change the signature's dimension: (20,), (12,), (30,), stream (4, 20), batch (2, 30)"

# ... and equal the signature of the transformed path written by hand.
printf '0,0,0,0,0\n1,2,0,0,0.25\n1,2,1,2,0.5\n3,-1,1,2,0.75\n3,-1,3,-1,1\n' >tb_llt.csv
printf '0,0,0\n1,2,0.5\n3,-1,1\n' >tb_t.csv
run_ok "transforms by hand" sig tb_llt.csv tb_llt_ref.npy --depth 2
run_ok "transforms by hand" sig tb_t.csv tb_t_ref.npy --depth 2
npy_values tb_llt.npy >got.txt
npy_values tb_llt_ref.npy >ref.txt
compare "--lead-lag --time by hand" got.txt ref.txt 1e-15 1e-15
npy_values tb_t.npy >got.txt
npy_values tb_t_ref.npy >ref.txt
compare "--time by hand" got.txt ref.txt 1e-15 1e-15
pass "sig --lead-lag --time and sig --time equal the signatures of the transformed paths written by hand"

# The backward commands pull the gradient back to the original path's shape:
# --time drops the time column of the gradient; --lead-lag sums the lead and
# lag copies of each point (row r of the lead-lag path is (x_{(r+1)/2}, x_{r/2})).
run_ok "sig-backward --time" sig-backward tb_t.npy tb_path.csv tb_gt.csv --depth 2 --time
run_ok "sig-backward --time" sig-backward tb_t.npy tb_t.csv tb_gt_full.csv --depth 2
[[ $(wc -l <tb_gt.csv) -eq 3 ]] || fail "sig-backward --time" "expected 3 rows, got $(wc -l <tb_gt.csv)"
csv_values tb_gt.csv >got.txt
cut -d, -f1-2 tb_gt_full.csv | tr ',' '\n' | awk 'NF { print $1 }' >ref.txt
compare "sig-backward --time" got.txt ref.txt 1e-15 1e-15
printf '0,0,0,0\n1,2,0,0\n1,2,1,2\n3,-1,1,2\n3,-1,3,-1\n' >tb_ll.csv
run_ok "sig-backward --lead-lag" sig-backward tb_ll.npy tb_path.csv tb_gll.csv --depth 2 --lead-lag
run_ok "sig-backward --lead-lag" sig-backward tb_ll.npy tb_ll.csv tb_gll_full.csv --depth 2
csv_values tb_gll.csv >got.txt
awk -F, '{ r = NR - 1; lead = int((r + 1) / 2); lag = int(r / 2)
           g[lead, 1] += $1; g[lead, 2] += $2; g[lag, 1] += $3; g[lag, 2] += $4 }
     END { for (i = 0; i < 3; i++) printf "%.17g\n%.17g\n", g[i, 1], g[i, 2] }' tb_gll_full.csv >ref.txt
compare "sig-backward --lead-lag" got.txt ref.txt 1e-14 1e-14
run_ok "logsig-backward --lead-lag --time (batch)" logsig-backward tb_bllt.npy tb_batch.npy tb_glb.npy --depth 2 \
    --lead-lag --time --basis expanded
expect_npy "logsig-backward --lead-lag --time (batch)" tb_glb.npy '<f8' '(2, 3, 2)'
pass "sig-backward and logsig-backward with transforms give gradients shaped like the path, pulled back by the adjoints"

expect_error "join: --dim disagrees with the signature length" 'length 30.*\(120,\)' out.npy \
    join "$DATA/sigjoin_d3_N4_sigs.npy" "$DATA/sigjoin_d3_N4_segment.npy" out.npy --dim 2 --depth 4
expect_error "scale: scales of the wrong length" 'scales of shape \(3,\)' out.npy \
    scale "$DATA/sigscale_d3_N4_sigs.npy" tb_scales.npy out.npy --dim 3 --depth 4
expect_error "join: batch sizes differ" 'segments of shape \(2, 2\)' out.npy \
    join tb_batch_sig.npy "$DATA/sigjoin_d3_N4_segment.npy" out.npy --dim 2 --depth 3
write_npy tb_nanseg.npy '<f8' '(2,)' "$(f8s 1 nan)"
expect_error "join: NaN in a segment" 'segments has a non-finite.*\(1\)' out.npy \
    join tb_head.npy tb_nanseg.npy out.npy --dim 2 --depth 4
expect_error "join: missing --dim" 'dim' out.npy join tb_head.npy tb_seg.csv out.npy --depth 4
write_npy tb_nan.npy '<f8' '(3, 2)' "$(f8s 0 0 1 nan 2 2)"
expect_error "sig --lead-lag: NaN in the path" 'lead_lag: path has a non-finite.*\(1, 1\)' out.npy \
    sig tb_nan.npy out.npy --depth 2 --lead-lag
expect_error "sig-backward --lead-lag: gradient for the untransformed path" 'gradient must have shape \(20,\)' \
    out.npy sig-backward tb_t.npy tb_path.csv out.npy --depth 2 --lead-lag

# TENSIG_ARCH picks an instruction set the CPU has; a name it does not know is ignored.
best=$(env -u TENSIG_ARCH "$TENSIG" arch) # (the tests may run under a TENSIG_ARCH of their own)
[[ $(TENSIG_ARCH=sse2 "$TENSIG" arch) == sse2 ]] || fail "TENSIG_ARCH=sse2" "got $(TENSIG_ARCH=sse2 "$TENSIG" arch)"
[[ $(TENSIG_ARCH=no-such-isa "$TENSIG" arch) == "$best" ]] || fail "TENSIG_ARCH with an unknown name"
pass "TENSIG_ARCH chooses the instruction set (best: $best)"

echo "cli_test: all $checks checks passed"
