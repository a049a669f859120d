/* churn-gen - generate Telco-shaped customer churn data (demo and tests) */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "predlog.h"
#include "util.h"

/*
 * The population imitates the public Telco customer churn data set: the
 * shares below were read off the real file (7,043 rows).  Features are
 * drawn one after another, each conditioned on the ones that drive it
 * there (contract -> tenure, internet service, add-ons, payment method),
 * monthly charges follow a price list, and churn is a Bernoulli draw from
 * a logistic model fitted to the real data, so that a model trained on
 * generated rows learns the same story: month-to-month contracts, short
 * tenure, fiber and electronic checks churn more.
 */

enum { M2M, ONE_YEAR, TWO_YEAR };
enum { DSL, FIBER, NO_NET };
enum { BANK, CARD, ECHECK, MAILED };
enum { SECURITY, BACKUP, PROTECTION, SUPPORT, TV, MOVIES, NADDON };

static const char *const contract_name[] = {
	"Month-to-month", "One year", "Two year"
};
static const char *const net_name[] = { "DSL", "Fiber optic", "No" };
static const char *const pay_name[] = {
	"Bank transfer (automatic)", "Credit card (automatic)",
	"Electronic check", "Mailed check"
};

static const double contract_p[2][3] = {
	{ 0.550, 0.209, 0.241 },
	{ 0.720, 0.160, 0.120 },	/* --shift: towards month-to-month */
};

/* tenure: bins [lo, hi] and their counts per contract in the real file */
static const int tenure_lo[] = { 0, 1, 2, 7, 13, 25, 37, 49, 61, 72 };
static const int tenure_hi[] = { 0, 1, 6, 12, 24, 36, 48, 60, 71, 72 };
#define NTBIN (sizeof tenure_lo / sizeof tenure_lo[0])
static const double tenure_w[3][NTBIN] = {
	{ 0, 604, 809, 581, 737, 486, 316, 234, 106, 2 },
	{ 1, 7, 31, 85, 197, 250, 268, 321, 296, 17 },
	{ 10, 2, 17, 39, 90, 96, 178, 277, 643, 343 },
};

static const double net_p[2][3][3] = {
	{ { 0.316, 0.549, 0.135 }, { 0.387, 0.366, 0.247 },
	  { 0.371, 0.253, 0.376 } },
	{ { 0.220, 0.700, 0.080 }, { 0.300, 0.550, 0.150 },
	  { 0.330, 0.420, 0.250 } },	/* --shift: more fiber */
};

/* add-on "Yes" share by internet service (DSL, fiber) and contract */
static const double addon_p[NADDON][2][3] = {
	[SECURITY] =	{ { 0.30, 0.58, 0.77 }, { 0.17, 0.41, 0.61 } },
	[BACKUP] =	{ { 0.30, 0.49, 0.69 }, { 0.33, 0.64, 0.72 } },
	[PROTECTION] =	{ { 0.23, 0.54, 0.76 }, { 0.32, 0.63, 0.79 } },
	[SUPPORT] =	{ { 0.28, 0.57, 0.82 }, { 0.16, 0.42, 0.72 } },
	[TV] =		{ { 0.24, 0.45, 0.64 }, { 0.47, 0.74, 0.82 } },
	[MOVIES] =	{ { 0.25, 0.45, 0.66 }, { 0.47, 0.75, 0.82 } },
};
static const int addon_price[NADDON] = { 500, 500, 500, 500, 1000, 1000 };

static const double pay_p[3][3][4] = {
	{ { 0.161, 0.151, 0.388, 0.300 }, { 0.154, 0.138, 0.614, 0.094 },
	  { 0.124, 0.124, 0.132, 0.620 } },
	{ { 0.254, 0.302, 0.204, 0.240 }, { 0.291, 0.278, 0.364, 0.067 },
	  { 0.245, 0.209, 0.096, 0.451 } },
	{ { 0.357, 0.377, 0.092, 0.174 }, { 0.378, 0.359, 0.214, 0.049 },
	  { 0.279, 0.298, 0.028, 0.395 } },
};

static const double senior_p[3] = { 0.107, 0.268, 0.034 };
static const double partner_p[3] = { 0.356, 0.563, 0.703 };
static const double paperless_p[3] = { 0.549, 0.774, 0.292 };
static const double multi_p[3] = { 0.397, 0.626, 0.224 };

/* logistic churn model (coefficients fitted on the real file) */
static const struct {
	double intercept, one_year, two_year, log_tenure, fiber, no_net;
	double echeck, charges10, paperless, senior, security, support;
	double dependents, partner, tv, movies, multi, phone;
} beta = {
	1.08, -0.687, -1.662, -0.723, 1.247, -1.127,
	0.324, -0.120, 0.351, 0.225, -0.260, -0.220,
	-0.138, 0.038, 0.435, 0.448, 0.430, -0.306,
};

/*
 * --concept-shift X moves the churn relation (not the population) towards
 * one where the contract, tenure and payment-method effects are reversed:
 * z = (1 - X) z_fitted + X z_reversed.  The reversed relation's intercept
 * keeps the churn rate near the fitted one's (about 26 %).
 */
#define REVERSED_SHIFT (-5.0)

/* 10^4 * 26^5 customer IDs "NNNN-LLLLL" */
#define ID_SPACE 118813760000ULL
#define ID_LETTERS 11881376ULL

struct out {
	struct ch_buf b;
	FILE *fp;	/* stream when not NULL, else buffer everything */
	const char *name;
};

static const struct ch_usage use = {
	"churn-gen [-qv] [--rows N] [--seed S] [--shift] [--concept-shift X]\n"
	"[--outcomes FILE [--outcome-time T]] [-o FILE]\n",
	"  --rows N              customers to write after the header (7043)\n"
	"  --seed S              the random seed (1)\n"
	"  --shift               a drifted population (for drift checks)\n"
	"  --concept-shift X     move the churn relation, 0 to 1 (0: none)\n"
	"  --outcomes FILE       also write id,outcome,time of every customer\n"
	"  --outcome-time T      the outcomes' time (default today, UTC)\n"
	"  -o, --output FILE     write FILE atomically instead of stdout\n",
	NULL,
};

static int
coin(struct ch_rng *r, double p)
{
	return ch_rng_unit(r) < p;
}

static int
pick(struct ch_rng *r, const double *w, int n)
{
	double sum = 0, u;
	int i;

	for (i = 0; i < n; i++)
		sum += w[i];
	u = ch_rng_unit(r) * sum;
	for (i = 0; i < n - 1; i++) {
		if (u < w[i])
			return i;
		u -= w[i];
	}
	return n - 1;
}

static double
gauss(struct ch_rng *r)
{
	double u = 1.0 - ch_rng_unit(r), v = ch_rng_unit(r);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* splitmix64's step: one 64-bit value from another */
static uint64_t
mix(uint64_t x)
{
	return ch_mix64(x + 0x9e3779b97f4a7c15ULL);
}

static void
flush_out(struct out *o)
{
	if (o->fp && o->b.len) {
		if (fwrite(o->b.s, 1, o->b.len, o->fp) != o->b.len)
			ch_die(2, "write %s:", o->name);
		o->b.len = 0;
	}
}

/* room for a row: a stream is written out when its buffer is full */
static void
reserve(struct out *o, size_t n)
{
	if (o->fp && o->b.len + n + 1 > o->b.cap)
		flush_out(o);
	ch_buf_room(&o->b, n);
}

#define put(o, s, n) ch_buf_add(&(o)->b, s, n)
#define PUTS(o, s) put(o, s, strlen(s))
#define PUTC(o, c) (o)->b.s[(o)->b.len++] = (c)

static void
put_uint(struct out *o, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		PUTC(o, tmp[--n]);
}

/* An amount in cents the way the real file prints it: 29.85, 42.3, 84 */
static void
put_cents(struct out *o, uint64_t cents)
{
	put_uint(o, cents / 100);
	if (cents % 100) {
		PUTC(o, '.');
		PUTC(o, '0' + cents % 100 / 10);
		if (cents % 10)
			PUTC(o, '0' + cents % 10);
	}
}

/*
 * Customer ID number id (< ID_SPACE) as "7590-VHVEG".  Two mixing rounds,
 * each a bijection (a multiplier coprime to the modulus plus a hash of the
 * other half), hide that consecutive rows have consecutive numbers.
 */
static void
put_id(struct out *o, uint64_t id, uint64_t key, char s[10])
{
	uint64_t d = id % 10000, l = id / 10000;
	int i;

	l = (l * 7 + mix(d ^ key)) % ID_LETTERS;
	d = (d * 3 + mix(l + key)) % 10000;
	for (i = 3; i >= 0; i--, d /= 10)
		s[i] = '0' + d % 10;
	s[4] = '-';
	for (i = 9; i >= 5; i--, l /= 26)
		s[i] = 'A' + l % 26;
	put(o, s, 10);
}

static void
put_yn(struct out *o, int yes)
{
	PUTS(o, yes ? ",Yes" : ",No");
}

static uint64_t
round5(double cents)
{
	return (uint64_t)(cents / 5.0 + 0.5) * 5;
}

/* The generator's settings beyond the row's own. */
struct genopts {
	int shift;
	double concept;          /* --concept-shift, 0..1 */
	struct out *outcomes;    /* --outcomes: id,outcome,time lines */
	const char *when;        /* their time */
};

static void
row(struct out *o, struct ch_rng *r, uint64_t id, uint64_t key,
    const struct genopts *g)
{
	int shift = g->shift, churn;
	double zrev;
	char ids[10];
	int contract, tenure, net, phone, multi, addon[NADDON], pay;
	int senior, partner, dependents, paperless, male, b, i;
	double z, charge;
	uint64_t cents;

	contract = pick(r, contract_p[shift], 3);
	b = pick(r, tenure_w[contract], NTBIN);
	tenure = tenure_lo[b] +
	    (int)ch_rng_below(r, tenure_hi[b] - tenure_lo[b] + 1);
	if (shift)	/* a young customer base: tenure roughly halved */
		tenure = (int)(tenure * 0.5 + ch_rng_unit(r));
	net = pick(r, net_p[shift][contract], 3);
	male = coin(r, 0.505);
	senior = coin(r, senior_p[net]);
	partner = coin(r, partner_p[contract]);
	dependents = coin(r, partner ? 0.514 : 0.099);
	phone = net != DSL || coin(r, 0.718);
	multi = phone && coin(r, multi_p[net]);
	for (i = 0; i < NADDON; i++)
		addon[i] = net != NO_NET && coin(r, addon_p[i][net][contract]);
	paperless = coin(r, paperless_p[net]);
	pay = pick(r, pay_p[contract][net], 4);

	/* the price list, in cents */
	charge = net == DSL ? 2500 : net == FIBER ? 5000 : 0;
	charge += phone ? (net == NO_NET ? 1970 : 2000) : 0;
	charge += multi ? 500 : 0;
	for (i = 0; i < NADDON; i++)
		charge += addon[i] ? addon_price[i] : 0;
	charge += 150 * gauss(r);
	if (shift)
		charge *= 1.12;
	if (charge < 1825)
		charge = 1825;
	cents = round5(charge);

	z = beta.intercept + beta.log_tenure * log1p(tenure) +
	    (contract == ONE_YEAR) * beta.one_year +
	    (contract == TWO_YEAR) * beta.two_year +
	    (net == FIBER) * beta.fiber + (net == NO_NET) * beta.no_net +
	    (pay == ECHECK) * beta.echeck + beta.charges10 * cents / 1000.0 +
	    paperless * beta.paperless + senior * beta.senior +
	    addon[SECURITY] * beta.security + addon[SUPPORT] * beta.support +
	    dependents * beta.dependents + partner * beta.partner +
	    addon[TV] * beta.tv + addon[MOVIES] * beta.movies +
	    multi * beta.multi + phone * beta.phone;
	zrev = z - 2 * (beta.log_tenure * log1p(tenure) +
	    (contract == ONE_YEAR) * beta.one_year +
	    (contract == TWO_YEAR) * beta.two_year +
	    (pay == ECHECK) * beta.echeck) + REVERSED_SHIFT;
	z = (1 - g->concept) * z + g->concept * zrev;

	reserve(o, 512);
	put_id(o, id, key, ids);
	PUTS(o, male ? ",Male," : ",Female,");
	PUTC(o, senior ? '1' : '0');
	put_yn(o, partner);
	put_yn(o, dependents);
	PUTC(o, ',');
	put_uint(o, tenure);
	put_yn(o, phone);
	PUTS(o, phone ? (multi ? ",Yes" : ",No") : ",No phone service");
	PUTC(o, ',');
	PUTS(o, net_name[net]);
	for (i = 0; i < NADDON; i++)
		PUTS(o, net == NO_NET ? ",No internet service" :
		    addon[i] ? ",Yes" : ",No");
	PUTC(o, ',');
	PUTS(o, contract_name[contract]);
	put_yn(o, paperless);
	PUTC(o, ',');
	PUTS(o, pay_name[pay]);
	PUTC(o, ',');
	put_cents(o, cents);
	PUTC(o, ',');
	if (tenure == 0)
		PUTC(o, ' ');	/* the real file leaves new customers blank */
	else {
		double f = 1.0 + 0.05 * gauss(r);

		f = f < 0.7 ? 0.7 : f > 1.5 ? 1.5 : f;
		put_cents(o, round5(cents * tenure * f));
	}
	churn = coin(r, 1.0 / (1.0 + exp(-z)));
	put_yn(o, churn);
	PUTC(o, '\n');
	if (g->outcomes) {
		reserve(g->outcomes, 64);
		put(g->outcomes, ids, sizeof ids);
		PUTS(g->outcomes, churn ? ",Yes," : ",No,");
		PUTS(g->outcomes, g->when);
		PUTC(g->outcomes, '\n');
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "rows", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "shift", no_argument, NULL, 'S' },
		{ "concept-shift", required_argument, NULL, 'C' },
		{ "outcomes", required_argument, NULL, 'O' },
		{ "outcome-time", required_argument, NULL, 'T' },
		{ "output", required_argument, NULL, 'o' },
		CH_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	static const char header[] = "customerID,gender,SeniorCitizen,"
	    "Partner,Dependents,tenure,PhoneService,MultipleLines,"
	    "InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,"
	    "TechSupport,StreamingTV,StreamingMovies,Contract,"
	    "PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,"
	    "Churn\n";
	uint64_t rows = 7043, seed = 1, i, key;
	const char *path = NULL, *opath = NULL;
	int shift = 0, c;
	struct ch_rng r;
	struct out o = { 0 }, oo = { 0 };
	struct genopts g = { 0 };
	struct ch_err e;
	char today[11];
	time_t now = time(NULL);
	struct tm tm;

	ch_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "o:" CH_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (ch_common_opt(c, &use))
			continue;
		switch (c) {
		case 'n':
			rows = (uint64_t)ch_opt_int("--rows", optarg, 0,
			    (long long)ID_SPACE);
			break;
		case 's':
			seed = (uint64_t)ch_opt_int("--seed", optarg, 0, LLONG_MAX);
			break;
		case 'S':
			shift = 1;
			break;
		case 'C':
			g.concept = ch_opt_double("--concept-shift", optarg, 0, 1);
			break;
		case 'O':
			opath = optarg;
			break;
		case 'T':
			g.when = optarg;
			break;
		case 'o':
			path = optarg;
			break;
		default:
			ch_usage(&use, 2);
		}
	}
	if (optind != argc) {
		ch_warn("unexpected argument '%s'", argv[optind]);
		ch_usage(&use, 2);
	}

	if (g.when && !opath)
		ch_die(2, "--outcome-time: needs --outcomes");
	if (g.when) {
		time_t t;
		if (strlen(g.when) > 40 || strchr(g.when, ',') ||
		    ch_time_parse(g.when, strlen(g.when), &t) != 0)
			ch_die(2, "--outcome-time: '%s' is not a time "
			    "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", g.when);
	} else {
		gmtime_r(&now, &tm);
		strftime(today, sizeof today, "%Y-%m-%d", &tm);
		g.when = today;
	}
	if (opath && (strcmp(opath, "-") == 0 ||
	    (path && strcmp(opath, path) == 0) ||
	    (!path && strcmp(opath, "/dev/stdout") == 0)))
		ch_die(2, "--outcomes: give a file other than the data's");
	if (path && strcmp(path, "-") == 0)
		path = NULL;
	o.name = path ? path : "stdout";
	o.fp = path ? NULL : stdout;
	/* with -o the whole file is built in memory (about 140 bytes a row) */
	o.b.cap = path && rows < 1000000 ? 160 * rows + 4096 : 1 << 24;
	o.b.s = ch_malloc(o.b.cap);

	g.shift = shift;
	if (opath) {
		oo.name = opath;
		oo.b.cap = rows < 1000000 ? 48 * rows + 4096 : 1 << 24;
		oo.b.s = ch_malloc(oo.b.cap);
		PUTS(&oo, "customerID,outcome,time\n");
		g.outcomes = &oo;
	}
	ch_rng_seed(&r, seed ^ (shift ? 0x5348494654ULL : 0));
	key = ch_rng_next(&r);
	put(&o, header, sizeof header - 1);
	for (i = 0; i < rows; i++)
		row(&o, &r, i, key, &g);
	if (opath && ch_write_atomic(opath, oo.b.s, oo.b.len, &e) == -1)
		ch_die(2, "%s", e.msg);
	free(oo.b.s);

	if (path) {
		if (ch_write_atomic(path, o.b.s, o.b.len, &e) == -1)
			ch_die(2, "%s", e.msg);
	} else {
		flush_out(&o);
		ch_fshut(stdout, "stdout");
	}
	if (ch_verbosity() > 0)
		ch_warn("%llu rows written to %s", (unsigned long long)rows,
		    o.name);
	free(o.b.s);
	return 0;
}
