# tapsock build. `make` builds build/libtapsock.so and the test binaries; `make test` runs every suite.
# Variants: MODE=debug (no optimisation), SANITIZE=address,undefined or SANITIZE=thread (own build dir).

MODE     ?= release
SANITIZE ?=
CXX      ?= g++

ifeq ($(SANITIZE),)
  BUILD ?= build
else
  BUILD ?= build/san-$(subst $(comma),-,$(SANITIZE))
endif
comma := ,

WARN     := -Wall -Wextra -Werror -Wno-missing-field-initializers
OPT      := $(if $(filter debug,$(MODE)),-O0 -g3,-O2 -g)
# The library is built without RTTI, so UBSan's vptr check (which needs it) is off.
SANFLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer,)
SANFLAGS += $(if $(findstring undefined,$(SANITIZE)),-fno-sanitize=vptr -fno-sanitize-recover=undefined,)
DEFS     := -D_GNU_SOURCE -DFMT_HEADER_ONLY -DSPDLOG_NO_EXCEPTIONS -DSPDLOG_FMT_EXTERNAL
CXXFLAGS := -std=c++20 $(WARN) $(OPT) $(SANFLAGS) $(DEFS) -fPIC -fvisibility=hidden -fno-exceptions \
            -fno-rtti -pthread -I. -MMD -MP
TESTFLAGS:= -std=c++20 $(WARN) $(OPT) $(SANFLAGS) -D_GNU_SOURCE -pthread -I.
# Conformance tests play the unmodified program: never sanitized themselves (a sanitizer's own
# interceptors would fault on the bad pointers they pass to check EFAULT).
CONFFLAGS:= -std=c++20 $(WARN) $(OPT) -D_GNU_SOURCE -pthread -I.

# The preload library links libstdc++ and liburing statically and exports nothing but the interposed
# libc symbols (shim/exports.map), so a host program's own C++ runtime can never clash with ours.
SO_LDFLAGS := -shared -Wl,--version-script=shim/exports.map -Wl,--exclude-libs,ALL -Wl,-z,defs \
              -Wl,-z,now $(if $(SANITIZE),,-static-libstdc++ -static-libgcc) $(SANFLAGS)
SO_LIBS    := -Wl,-Bstatic -luring -Wl,-Bdynamic -lunwind -ldl -pthread

STACK_SRC := $(shell find stack -name '*.cc' 2>/dev/null)
SHIM_SRC  := $(wildcard shim/*.cc)
UNIT_SRC  := $(shell find tests/unit -name '*.cc' 2>/dev/null)
CONF_SRC  := $(wildcard tests/conformance/*.cc)

STACK_OBJ := $(STACK_SRC:%.cc=$(BUILD)/obj/%.o)
SHIM_OBJ  := $(SHIM_SRC:%.cc=$(BUILD)/obj/%.o)
UNIT_OBJ  := $(UNIT_SRC:%.cc=$(BUILD)/obj/%.o)
CONF_OBJ  := $(CONF_SRC:%.cc=$(BUILD)/obj/%.o)
# Shim code with no runtime behind it, which the unit tests link directly.
UNIT_SHIM_OBJ := $(BUILD)/obj/shim/stat_json.o

LIB       := $(BUILD)/libtapsock.so
STACK_LIB := $(BUILD)/libtapsock-stack.a
UNIT_BIN  := $(BUILD)/tests/unit_tests
CONF_BIN  := $(BUILD)/tests/conformance_tests
DEPS_OK   ?= build/.deps-ok

.PHONY: all deps test demo bench clean format thread-safety
all: $(DEPS_OK) $(LIB) $(UNIT_BIN) $(CONF_BIN)

# Debian packages: installed once per machine, re-checked when the list changes.
$(DEPS_OK): scripts/install-deps
	@scripts/install-deps
	@mkdir -p $(dir $@) && touch $@
deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.cc Makefile | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.cc Makefile | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) $(TESTFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/conformance/%.o: tests/conformance/%.cc Makefile | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CXX) $(CONFFLAGS) -MMD -MP -c $< -o $@

$(STACK_LIB): $(STACK_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB): $(SHIM_OBJ) $(STACK_LIB) shim/exports.map
	$(CXX) $(SO_LDFLAGS) -o $@ $(SHIM_OBJ) $(STACK_LIB) $(SO_LIBS)

$(UNIT_BIN): $(UNIT_OBJ) $(UNIT_SHIM_OBJ) $(STACK_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(SANFLAGS) -o $@ $(UNIT_OBJ) $(UNIT_SHIM_OBJ) $(STACK_LIB) -lgmock -lgtest_main -lgtest -luring -pthread

$(CONF_BIN): $(CONF_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) -o $@ $(CONF_OBJ) -lgmock -lgtest_main -lgtest -pthread

# Clang's thread-safety analysis over the library (GCC ignores the annotations); `make test` runs it.
# exports.cc holds no lock, and clang disputes glibc's exception specifications there.
TSA_SRC := $(filter-out shim/exports.cc,$(STACK_SRC) $(SHIM_SRC))
thread-safety: $(DEPS_OK)
	@printf '%s\n' $(TSA_SRC) | xargs -P2 -n8 clang++ -std=c++20 -fsyntax-only -Wthread-safety \
	  -Werror=thread-safety $(DEFS) -fno-exceptions -fno-rtti -I.

test: all
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run-all

demo: all
	@BUILD=$(BUILD) scripts/demo

bench: all
	@BUILD=$(BUILD) tests/bench/run

format:
	clang-format -i $$(find shim stack tests -name '*.cc' -o -name '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
