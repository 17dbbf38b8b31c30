/*
 * vlmcmp's stand-in for the miniaudio header.
 *
 * llama.cpp's tools/mtmd/mtmd-helper.cpp includes "miniaudio/miniaudio.h" to
 * decode audio input. The Go module that vendors llama.cpp does not ship that
 * header, and vlmcmp scores images only, so this file declares just the few
 * calls mtmd-helper.cpp makes and has every one of them fail. Audio input is
 * then reported as unsupported while image input works as usual.
 *
 * Written for vlmcmp; it contains no miniaudio source.
 */
#ifndef VLMCMP_MINIAUDIO_STUB_H
#define VLMCMP_MINIAUDIO_STUB_H

#include <stddef.h>

#ifndef MA_API
#define MA_API static
#endif

typedef int ma_result;
typedef unsigned long long ma_uint64;
typedef unsigned int ma_uint32;

#define MA_SUCCESS 0
#define MA_NOT_IMPLEMENTED (-29)

typedef enum { ma_format_unknown = 0, ma_format_f32 = 5 } ma_format;
typedef enum { ma_encoding_format_wav = 1 } ma_encoding_format;

typedef struct {
    ma_format format;
    ma_uint32 channels;
    ma_uint32 sampleRate;
} ma_decoder_config;

typedef struct {
    int unused;
} ma_decoder;

typedef struct {
    int unused;
} ma_encoder_config;

typedef struct {
    int unused;
} ma_encoder;

static inline ma_decoder_config ma_decoder_config_init(ma_format format, ma_uint32 channels, ma_uint32 sample_rate) {
    ma_decoder_config c;
    c.format = format;
    c.channels = channels;
    c.sampleRate = sample_rate;
    return c;
}

static inline ma_result ma_decoder_init_memory(const void *data, size_t size, const ma_decoder_config *config, ma_decoder *decoder) {
    (void)data; (void)size; (void)config; (void)decoder;
    return MA_NOT_IMPLEMENTED; /* audio is not supported by vlmcmp */
}

static inline ma_result ma_decoder_get_length_in_pcm_frames(ma_decoder *decoder, ma_uint64 *frames) {
    (void)decoder;
    if (frames) *frames = 0;
    return MA_NOT_IMPLEMENTED;
}

static inline ma_result ma_decoder_read_pcm_frames(ma_decoder *decoder, void *out, ma_uint64 frames, ma_uint64 *read) {
    (void)decoder; (void)out; (void)frames;
    if (read) *read = 0;
    return MA_NOT_IMPLEMENTED;
}

static inline ma_result ma_decoder_uninit(ma_decoder *decoder) {
    (void)decoder;
    return MA_SUCCESS;
}

#endif /* VLMCMP_MINIAUDIO_STUB_H */
