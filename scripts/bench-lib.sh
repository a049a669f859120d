# bench-lib.sh - the table and the load lines every section of `make bench`
# prints; sourced by scripts/bench, bench-drift and bench-serve:
#
#	. "$top/scripts/bench-lib.sh"
#	bench_section drift "churn-drift on 1,000,000 rows"
#	bench_head
#	bench_row "wall s, 1M rows" 0.21 1.90 "$(bench_ratio 0.21 1.90 lower)" \
#	    "hard < 0.5 s" "$(bench_met 0.21 lt 0.5)"
#	bench_done
#
# A figure is one row: what is measured, churn's value, the reference's
# value, the ratio (how many times better churn is: reference/churn for a
# time or a size, churn/reference for a rate), the target and whether it
# is met.  Each section starts and ends with the machine's load (the load
# averages and the processes running besides the bench's own), so numbers
# from a busy machine are recognisable: on the 2-core machine the issue's
# targets are for, a 1-minute load above 1 or other running processes
# mean the wall times are high and the CPU times still fair.

# bench_load : "load 0.52 0.61 0.70 (1, 5, 15 min), 0 other running processes"
bench_load() {
	_l=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '? ? ?')
	_me=$(ps -o pgid= -p $$ 2>/dev/null | tr -d ' ')
	# processes running (state R) outside the bench's process group
	_o=$(ps -eo stat=,pgid= 2>/dev/null |
	    awk -v me="${_me:-x}" '$1 ~ /^R/ && $2 != me { n++ } END { print n + 0 }')
	printf 'load %s (1, 5, 15 min), %s other running processes, %s CPUs\n' \
	    "$_l" "$_o" "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')"
}

bench_open=''
# bench_section NAME [TITLE] : ends the section under way (bench_done) and
# starts NAME: "== NAME: TITLE" and the load at its start
bench_section() {
	bench_done
	bench_open=$1
	printf '== %s%s\n' "$1" "${2:+: $2}"
	printf '   at start: %s\n' "$(bench_load)"
}

# bench_done : the load at the end of the section under way, if any
bench_done() {
	[ -n "$bench_open" ] || return 0
	printf '   at end of %s: %s\n\n' "$bench_open" "$(bench_load)"
	bench_open=''
}

# bench_busy : true when the 1-minute load is above half the CPUs (wall
# times of such a run say little about an idle machine's)
bench_busy() {
	awk -v n="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)" \
	    '{ exit !($1 > n / 2) }' /proc/loadavg 2>/dev/null
}

# bench_row FIGURE CHURN REFERENCE RATIO TARGET MET : one row of the table
# (empty arguments print as "-")
bench_row() {
	printf '  %-34s %12s %12s %8s  %-30s %s\n' "$1" "${2:--}" "${3:--}" \
	    "${4:--}" "${5:--}" "${6:--}"
}

# bench_head : the column names, under a section's title
bench_head() {
	bench_row figure churn reference ratio target met?
}

# bench_num X... : true when every argument is a plain number
bench_num() {
	for _x; do
		case $_x in ''|-|*[!0-9.e+-]*) return 1 ;; esac
	done
}

# bench_ratio CHURN REFERENCE lower|higher : "4.2x", how many times better
# churn is when lower (times, sizes) or higher (rates) is better; "-"
# when either is not a number
bench_ratio() {
	bench_num "$1" "$2" || { echo -; return 0; }
	awk -v c="$1" -v r="$2" -v how="$3" 'BEGIN {
		x = how == "higher" ? (r > 0 ? c / r : 0) : (c > 0 ? r / c : 0)
		printf (x >= 10 ? "%.0fx" : "%.1fx"), x
	}'
}

# bench_met VALUE lt|le|gt|ge LIMIT [STRETCH] : "yes" or "NO" (and, with a
# stretch limit, "yes, stretch too" or "yes, not the stretch"); "-" when
# VALUE is not a number
bench_met() {
	bench_num "$1" || { echo -; return 0; }
	awk -v v="$1" -v op="$2" -v h="$3" -v s="${4-}" '
	function ok(l) {
		return op == "lt" ? v < l : op == "le" ? v <= l : op == "gt" ? v > l : v >= l
	}
	BEGIN {
		if (!ok(h)) print "NO"
		else if (s == "") print "yes"
		else if (ok(s)) print "yes, stretch too"
		else print "yes, not the stretch"
	}'
}
