//go:build llamacpp

// Sampling with a grammar, guarded: llama.cpp's own llama_sampler_sample
// dereferences missing logits, and a grammar that rules out every token
// makes accepting throw a C++ exception (or abort) that would end the
// process. This wrapper checks first and catches what is thrown.

#include <cmath>
#include <exception>

#include "llama.h"
#include "sampler_guard.h"

extern "C" int32_t vlmcmp_sample(struct llama_sampler * smpl, struct llama_context * ctx, int32_t idx,
                                 llama_token_data * cur, int32_t n_vocab, llama_token * out) {
    try {
        const float * logits = llama_get_logits_ith(ctx, idx);
        if (logits == nullptr) {
            return VLMCMP_SAMPLE_NO_LOGITS;
        }
        for (llama_token t = 0; t < n_vocab; t++) {
            cur[t] = llama_token_data{t, logits[t], 0.0f};
        }
        llama_token_data_array cur_p = {cur, (size_t) n_vocab, -1, false};
        llama_sampler_apply(smpl, &cur_p);
        if (cur_p.selected < 0 || cur_p.selected >= (int64_t) cur_p.size) {
            return VLMCMP_SAMPLE_NONE;
        }
        const llama_token_data sel = cur_p.data[cur_p.selected];
        if (std::isinf(sel.logit) && sel.logit < 0) {
            return VLMCMP_SAMPLE_NONE; // every token was ruled out, e.g. by the grammar
        }
        llama_sampler_accept(smpl, sel.id);
        *out = sel.id;
        return VLMCMP_SAMPLE_OK;
    } catch (const std::exception &) {
        return VLMCMP_SAMPLE_EXCEPTION;
    }
}
