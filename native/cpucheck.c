//go:build llamacpp && amd64

// A binary compiled with -march=<a newer CPU> executes instructions an older
// CPU lacks; the first one it meets kills the process with SIGILL, which
// tells a user nothing. The constructor below runs before every other
// initialiser of the process (priority 101: llama.cpp's and the C++
// library's static constructors have the default priority, and Go's runtime
// starts after all of them) and is itself compiled for plain x86-64, so on
// such a CPU it prints one sentence saying what is missing and how to
// rebuild, and exits with status 1. Generated lists would hide nothing here,
// so each feature is written out: the compiler's macro for the target, the
// name __builtin_cpu_supports knows, and the name shown.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpucheck.h"

#define BASE __attribute__((target("arch=x86-64")))

static const char *const shown[] = {
	"SSE4.2",
	"POPCNT",
	"AVX",
	"AVX2",
	"FMA",
	"F16C",
	"BMI2",
	"AVX512F",
	"AVX512BW",
	"AVX512DQ",
	"AVX512VL",
	"AVX512_VNNI",
	"AVX512_BF16",
	"AVX512_VBMI",
	"AVX_VNNI",
	"AMX_TILE",
	"AMX_INT8",
	"AMX_BF16",
};
enum { NFEATURES = sizeof(shown) / sizeof(shown[0]) };

// The compile-time set, a constant: reading it needs no newer instruction.
static const unsigned long long built_set = 0
#ifdef __SSE4_2__
	| (1ULL << 0)
#endif
#ifdef __POPCNT__
	| (1ULL << 1)
#endif
#ifdef __AVX__
	| (1ULL << 2)
#endif
#ifdef __AVX2__
	| (1ULL << 3)
#endif
#ifdef __FMA__
	| (1ULL << 4)
#endif
#ifdef __F16C__
	| (1ULL << 5)
#endif
#ifdef __BMI2__
	| (1ULL << 6)
#endif
#ifdef __AVX512F__
	| (1ULL << 7)
#endif
#ifdef __AVX512BW__
	| (1ULL << 8)
#endif
#ifdef __AVX512DQ__
	| (1ULL << 9)
#endif
#ifdef __AVX512VL__
	| (1ULL << 10)
#endif
#ifdef __AVX512VNNI__
	| (1ULL << 11)
#endif
#ifdef __AVX512BF16__
	| (1ULL << 12)
#endif
#ifdef __AVX512VBMI__
	| (1ULL << 13)
#endif
#ifdef __AVXVNNI__
	| (1ULL << 14)
#endif
#ifdef __AMX_TILE__
	| (1ULL << 15)
#endif
#ifdef __AMX_INT8__
	| (1ULL << 16)
#endif
#ifdef __AMX_BF16__
	| (1ULL << 17)
#endif
	;

int vlmcmp_cpu_feature_count(void) { return NFEATURES; }

const char *vlmcmp_cpu_feature_name(int i) { return i >= 0 && i < NFEATURES ? shown[i] : ""; }

unsigned long long vlmcmp_cpu_built(void) { return built_set; }

// The CPU's set, as the OS lets programs use it (libgcc's cpu model checks
// XCR0 for the AVX and AVX-512 state).
BASE unsigned long long vlmcmp_cpu_have(void) {
	unsigned long long set = 0;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2")) set |= 1ULL << 0;
	if (__builtin_cpu_supports("popcnt")) set |= 1ULL << 1;
	if (__builtin_cpu_supports("avx")) set |= 1ULL << 2;
	if (__builtin_cpu_supports("avx2")) set |= 1ULL << 3;
	if (__builtin_cpu_supports("fma")) set |= 1ULL << 4;
	if (__builtin_cpu_supports("f16c")) set |= 1ULL << 5;
	if (__builtin_cpu_supports("bmi2")) set |= 1ULL << 6;
	if (__builtin_cpu_supports("avx512f")) set |= 1ULL << 7;
	if (__builtin_cpu_supports("avx512bw")) set |= 1ULL << 8;
	if (__builtin_cpu_supports("avx512dq")) set |= 1ULL << 9;
	if (__builtin_cpu_supports("avx512vl")) set |= 1ULL << 10;
	if (__builtin_cpu_supports("avx512vnni")) set |= 1ULL << 11;
	if (__builtin_cpu_supports("avx512bf16")) set |= 1ULL << 12;
	if (__builtin_cpu_supports("avx512vbmi")) set |= 1ULL << 13;
	if (__builtin_cpu_supports("avxvnni")) set |= 1ULL << 14;
	if (__builtin_cpu_supports("amx-tile")) set |= 1ULL << 15;
	if (__builtin_cpu_supports("amx-int8")) set |= 1ULL << 16;
	if (__builtin_cpu_supports("amx-bf16")) set |= 1ULL << 17;
	return set;
}

BASE int vlmcmp_cpu_message(unsigned long long built, unsigned long long have, char *buf, size_t n) {
	unsigned long long missing = built & ~have;
	size_t len = 0;
	if (n == 0) return 0;
	buf[0] = 0;
	if (!missing) return 0;
	len += snprintf(buf + len, n - len, "vlmcmp: this binary was compiled for a CPU with");
	for (int i = 0; i < NFEATURES && len < n; i++)
		if (missing & (1ULL << i)) len += snprintf(buf + len, n - len, " %s", shown[i]);
	if (len < n)
		len += snprintf(buf + len, n - len,
			", which this CPU lacks: rebuild it here with `make`, or build a portable binary with `make MARCH=x86-64-v3` (AVX2) or `make MARCH=x86-64-v2`");
	return len < n ? (int)len : (int)n - 1;
}

// VLMCMP_PRETEND_CPU=x86-64-v2|x86-64-v3 narrows what the check believes
// the CPU has, so that tests can see the refusal on any machine.
BASE static unsigned long long pretend(unsigned long long have) {
	const char *p = getenv("VLMCMP_PRETEND_CPU");
	if (!p) return have;
	if (strcmp(p, "x86-64-v2") == 0) return have & ((1ULL << 0) | (1ULL << 1));
	if (strcmp(p, "x86-64-v3") == 0) return have & ((1ULL << 7) - 1);
	return have;
}

BASE __attribute__((constructor(101))) static void vlmcmp_cpu_check(void) {
	char msg[512];
	int len = vlmcmp_cpu_message(built_set, pretend(vlmcmp_cpu_have()), msg, sizeof msg);
	if (len > 0) {
		fprintf(stderr, "%s\n", msg);
		_exit(1);
	}
}
