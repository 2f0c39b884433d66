#include "mcu_helper.h"

#include <string.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/samplefmt.h>

int mcu_frame_make_writable(AVFrame *f) { return av_frame_make_writable(f); }

// Chroma subsampling shift of a yuv420p-style destination.
static void chroma_shift(const AVFrame *f, int *sx, int *sy) {
  *sx = 1;
  *sy = 1;
  if (f->format == AV_PIX_FMT_YUV444P) {
    *sx = 0;
    *sy = 0;
  }
}

// mcu_scale_into scales src into the rectangle (x, y, w, h) of dst. The
// SIMD paths of libswscale may write a few pixels past the end of a line,
// which inside a canvas would smear into the neighbouring tile, so the
// picture is scaled into a padded scratch frame of exactly w x h (kept in
// *scratch between calls) and its rows are copied into place.
int mcu_scale_into(struct SwsContext **ctx, AVFrame **scratch, const AVFrame *src,
                   AVFrame *dst, int x, int y, int w, int h, int flags) {
  int sx, sy, r, ret;
  AVFrame *s;
  if (w <= 0 || h <= 0) return 0;
  *ctx = sws_getCachedContext(*ctx, src->width, src->height, src->format, w, h,
                              dst->format, flags, NULL, NULL, NULL);
  if (!*ctx) return AVERROR(EINVAL);
  s = *scratch;
  if (!s || s->width != w || s->height != h || s->format != dst->format) {
    av_frame_free(scratch);
    s = av_frame_alloc();
    if (!s) return AVERROR(ENOMEM);
    s->width = w;
    s->height = h;
    s->format = dst->format;
    ret = av_frame_get_buffer(s, 0);
    if (ret < 0) {
      av_frame_free(&s);
      return ret;
    }
    *scratch = s;
  }
  ret = sws_scale(*ctx, (const uint8_t *const *)src->data, src->linesize, 0,
                  src->height, s->data, s->linesize);
  if (ret < 0) return ret;
  chroma_shift(dst, &sx, &sy);
  for (r = 0; r < h; r++)
    memcpy(dst->data[0] + (ptrdiff_t)(y + r) * dst->linesize[0] + x,
           s->data[0] + (ptrdiff_t)r * s->linesize[0], w);
  for (r = 0; r < (h >> sy); r++) {
    memcpy(dst->data[1] + (ptrdiff_t)((y >> sy) + r) * dst->linesize[1] + (x >> sx),
           s->data[1] + (ptrdiff_t)r * s->linesize[1], w >> sx);
    memcpy(dst->data[2] + (ptrdiff_t)((y >> sy) + r) * dst->linesize[2] + (x >> sx),
           s->data[2] + (ptrdiff_t)r * s->linesize[2], w >> sx);
  }
  return ret;
}

void mcu_fill_rect(AVFrame *dst, int x, int y, int w, int h, uint8_t cy,
                   uint8_t cu, uint8_t cv) {
  int sx, sy, r;
  chroma_shift(dst, &sx, &sy);
  for (r = y; r < y + h; r++)
    memset(dst->data[0] + (ptrdiff_t)r * dst->linesize[0] + x, cy, w);
  for (r = y >> sy; r < (y + h) >> sy; r++) {
    memset(dst->data[1] + (ptrdiff_t)r * dst->linesize[1] + (x >> sx), cu, w >> sx);
    memset(dst->data[2] + (ptrdiff_t)r * dst->linesize[2] + (x >> sx), cv, w >> sx);
  }
}

// mcu_draw_mask blends luma cy into dst where mask (0..255 coverage) is set.
void mcu_draw_mask(AVFrame *dst, int x, int y, const uint8_t *mask, int mw,
                   int mh, uint8_t cy) {
  int r, c;
  for (r = 0; r < mh; r++) {
    uint8_t *row = dst->data[0] + (ptrdiff_t)(y + r) * dst->linesize[0] + x;
    const uint8_t *m = mask + (ptrdiff_t)r * mw;
    for (c = 0; c < mw; c++) {
      if (m[c]) row[c] = (uint8_t)((row[c] * (255 - m[c]) + cy * m[c]) / 255);
    }
  }
}

// mcu_write_samples copies n mono float samples into f, converting to the
// frame's sample format (flt, fltp or s16 with one channel).
int mcu_write_samples(AVFrame *f, const float *s, int n) {
  int i;
  if (n > f->nb_samples) n = f->nb_samples;
  switch (f->format) {
  case AV_SAMPLE_FMT_FLT:
  case AV_SAMPLE_FMT_FLTP:
    memcpy(f->data[0], s, sizeof(float) * n);
    return n;
  case AV_SAMPLE_FMT_S16:
  case AV_SAMPLE_FMT_S16P: {
    int16_t *d = (int16_t *)f->data[0];
    for (i = 0; i < n; i++) {
      float v = s[i] * 32767.0f;
      if (v > 32767.0f) v = 32767.0f;
      if (v < -32768.0f) v = -32768.0f;
      d[i] = (int16_t)v;
    }
    return n;
  }
  default:
    return AVERROR(EINVAL);
  }
}

// mcu_resample converts in to mono float at rate into out, creating the
// resampler on first use. It returns the number of samples written.
int mcu_resample(SwrContext **ctx, const AVFrame *in, float *out, int cap,
                 int rate) {
  uint8_t *outp[1] = {(uint8_t *)out};
  if (!*ctx) {
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    AVChannelLayout inl = {0};
    int ret;
    if (in->ch_layout.nb_channels > 0 &&
        in->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC) {
      ret = av_channel_layout_copy(&inl, &in->ch_layout);
    } else {
      int ch = in->ch_layout.nb_channels > 0 ? in->ch_layout.nb_channels : 1;
      av_channel_layout_default(&inl, ch);
      ret = 0;
    }
    if (ret < 0) return ret;
    ret = swr_alloc_set_opts2(ctx, &mono, AV_SAMPLE_FMT_FLT, rate, &inl,
                              in->format, in->sample_rate, 0, NULL);
    av_channel_layout_uninit(&inl);
    if (ret < 0) return ret;
    ret = swr_init(*ctx);
    if (ret < 0) {
      swr_free(ctx);
      return ret;
    }
  }
  return swr_convert(*ctx, outp, cap, (const uint8_t **)in->extended_data,
                     in->nb_samples);
}

int mcu_resample_flush(SwrContext **ctx, float *out, int cap) {
  uint8_t *outp[1] = {(uint8_t *)out};
  if (!*ctx) return 0;
  return swr_convert(*ctx, outp, cap, NULL, 0);
}

void mcu_swr_free(SwrContext **ctx) { swr_free(ctx); }

void mcu_sws_free(struct SwsContext **ctx, AVFrame **scratch) {
  sws_freeContext(*ctx);
  *ctx = NULL;
  av_frame_free(scratch);
}

int64_t mcu_frame_best_effort_pts(const AVFrame *f) {
  return f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp
                                                    : f->pts;
}

int64_t mcu_frame_duration(const AVFrame *f) { return f->pkt_duration; }
