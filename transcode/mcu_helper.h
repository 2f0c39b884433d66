// Small C helpers for what go-astiav v0.16.0 cannot do from Go: writing
// pixels and samples into frames. Every function works on frames owned by
// the Go caller; nothing here allocates memory that outlives the call except
// the scaler and resampler contexts, which the caller frees.
#ifndef MCU_HELPER_H
#define MCU_HELPER_H

#include <stdint.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>

int mcu_frame_make_writable(AVFrame *f);
int mcu_scale_into(struct SwsContext **ctx, AVFrame **scratch, const AVFrame *src,
                   AVFrame *dst, int x, int y, int w, int h, int flags);
void mcu_fill_rect(AVFrame *dst, int x, int y, int w, int h,
                   uint8_t cy, uint8_t cu, uint8_t cv);
void mcu_draw_mask(AVFrame *dst, int x, int y, const uint8_t *mask,
                   int mw, int mh, uint8_t cy);
int mcu_write_samples(AVFrame *f, const float *s, int n);
int mcu_resample(SwrContext **ctx, const AVFrame *in, float *out, int cap,
                 int rate);
int mcu_resample_flush(SwrContext **ctx, float *out, int cap);
void mcu_swr_free(SwrContext **ctx);
void mcu_sws_free(struct SwsContext **ctx, AVFrame **scratch);
int64_t mcu_frame_best_effort_pts(const AVFrame *f);
int64_t mcu_frame_duration(const AVFrame *f);

#endif
