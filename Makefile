# churn - see README.md.  `make`, `make demo`, `make check`, `make bench`.
.SUFFIXES:

PREFIX  = /usr/local
BINDIR  = $(PREFIX)/bin
MANDIR  = $(PREFIX)/share/man
CC      = cc
OPT     = -O2 -g
PKGS    = jansson libpq libcurl openssl libmicrohttpd

# SAN=1 builds everything with ASan+UBSan into build-san/ (the tests' second run)
SAN     =
B       = build$(SAN:1=-san)
SAN_1    = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SANFLAGS = $(SAN_$(SAN))

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CFLAGS_ALL  = -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
              -pthread -iquote libchurn $(PKG_CFLAGS) $(OPT) $(SANFLAGS) $(CFLAGS)
LDLIBS_ALL  = $(PKG_LIBS) -lcsv -lm -pthread $(LDLIBS)

LIB_SRC  = $(wildcard libchurn/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(B)/%.o)
LIB      = $(B)/libchurn.a
# one program a file in cmd/, or a folder for a program of several files
PROG_ONE = $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
PROG_DIR = $(patsubst cmd/%/,%,$(dir $(wildcard cmd/*/main.c)))
PROGS    = $(PROG_ONE) $(PROG_DIR)
BINS     = $(PROGS:%=$(B)/bin/%)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNITS    = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
MAN      = $(wildcard man/*.[157])

all: $(BINS) bin

# bin/ holds the programs of the plain build, as the README says
bin: $(BINS)
	@if [ -z "$(SAN)" ]; then mkdir -p bin && for p in $(PROGS); do ln -sf ../$(B)/bin/$$p bin/$$p; done; fi

$(B)/%.o: %.c $(wildcard libchurn/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

# a static pattern rule, so that the folder rule below cannot claim a one-file program
$(PROG_ONE:%=$(B)/bin/%): $(B)/bin/%: $(B)/cmd/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LDLIBS_ALL)

.SECONDARY:
.SECONDEXPANSION:
$(B)/bin/%: $$(addprefix $(B)/,$$(addsuffix .o,$$(basename $$(wildcard cmd/$$*/*.c)))) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS_ALL)

# churn-serve serves the web UI embedded at build time from cmd/churn-serve/ui/
SERVE_OBJ = $(patsubst %.c,$(B)/%.o,$(wildcard cmd/churn-serve/*.c))
UI_FILES  = $(shell find cmd/churn-serve/ui -type f ! -name '.*' 2>/dev/null)
$(SERVE_OBJ): cmd/churn-serve/serve.h cmd/churn-serve/http.h cmd/churn-serve/guard.h
$(B)/gen/churn-serve/assets.c: scripts/embed cmd/churn-serve/ui $(UI_FILES)
	@mkdir -p $(@D)
	scripts/embed cmd/churn-serve/ui > $@.tmp && mv $@.tmp $@
$(B)/gen/churn-serve/assets.o: $(B)/gen/churn-serve/assets.c cmd/churn-serve/serve.h
	$(CC) $(CFLAGS_ALL) -Icmd/churn-serve -c -o $@ $<
$(B)/bin/churn-serve: $(B)/gen/churn-serve/assets.o

$(B)/tests/%: $(B)/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LDLIBS_ALL) $(shell pkg-config --libs check)

# every unit shares tests/unit/unit.h; test_registry_pg.c includes test_registry.c
$(UNIT_SRC:%.c=$(B)/%.o): tests/unit/unit.h
$(B)/tests/unit/test_registry_pg.o: tests/unit/test_registry.c

units: $(UNITS)

# every test; the services the tests need are started and stopped by tests/run
check: all units fuzzers
	CHURN_BIN=$(CURDIR)/$(B)/bin CHURN_UNITS=$(CURDIR)/$(B)/tests CHURN_FUZZ=$(CURDIR)/build-fuzz tests/run
	$(MAKE) SAN=1 check-san

check-san: all units
	CHURN_BIN=$(CURDIR)/$(B)/bin CHURN_UNITS=$(CURDIR)/$(B)/tests CHURN_SAN=1 tests/run unit cli http

# fuzz targets (libFuzzer, clang): each parser, FUZZ_SECONDS each
FUZZ_SECONDS = 10
FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS = $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
             -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -pthread -iquote libchurn $(PKG_CFLAGS)

build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard libchurn/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(LDLIBS_ALL)

fuzzers: $(FUZZ_BINS)

fuzz: fuzzers
	CHURN_FUZZ=$(CURDIR)/build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run fuzz

demo: all
	scripts/demo

bench: all
	scripts/bench

lint-man:
	@for m in $(MAN); do mandoc -T lint -W warning $$m || exit 1; done

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	for p in $(PROGS); do install -m 755 $(B)/bin/$$p $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MAN); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

clean:
	rm -rf build build-san build-fuzz bin

.PHONY: all bin units fuzzers fuzz check check-san demo bench lint-man install clean
