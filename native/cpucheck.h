// The x86-64 features the C and C++ of this binary were compiled for, and a
// check, run before any other initialiser, that the CPU has them. See
// buildcpu.go.
#ifndef VLMCMP_CPUCHECK_H
#define VLMCMP_CPUCHECK_H

#include <stddef.h>

// Bit i of vlmcmp_cpu_built() / vlmcmp_cpu_have() is feature i of
// vlmcmp_cpu_feature_name(i); there are vlmcmp_cpu_feature_count() of them.
int vlmcmp_cpu_feature_count(void);
const char *vlmcmp_cpu_feature_name(int i);
unsigned long long vlmcmp_cpu_built(void);
unsigned long long vlmcmp_cpu_have(void);

// Writes the sentence a binary built for `built` prints on a CPU that has
// only `have` (empty when nothing is missing); returns its length.
int vlmcmp_cpu_message(unsigned long long built, unsigned long long have, char *buf, size_t n);

#endif
