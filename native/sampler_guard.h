// Guarded sampling for package native (sampler_guard.cpp).
#ifndef VLMCMP_SAMPLER_GUARD_H
#define VLMCMP_SAMPLER_GUARD_H

#include "llama.h"

#define VLMCMP_SAMPLE_OK 0
#define VLMCMP_SAMPLE_NO_LOGITS 1
#define VLMCMP_SAMPLE_NONE 2
#define VLMCMP_SAMPLE_EXCEPTION 3

#ifdef __cplusplus
extern "C" {
#endif

int32_t vlmcmp_sample(struct llama_sampler * smpl, struct llama_context * ctx, int32_t idx,
                      llama_token_data * cur, int32_t n_vocab, llama_token * out);

#ifdef __cplusplus
}
#endif

#endif
