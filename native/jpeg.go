//go:build llamacpp

package native

// #cgo LDFLAGS: -l:libjpeg.a
// #include <stdio.h>
// #include <stdlib.h>
// #include <string.h>
// #include <setjmp.h>
// #include <jpeglib.h>
// #include <jerror.h>
//
// // vl_jpeg_err is libjpeg's error manager with a way back: libjpeg's own
// // error_exit ends the process.
// struct vl_jpeg_err {
//   struct jpeg_error_mgr pub;
//   jmp_buf back;
//   char msg[JMSG_LENGTH_MAX];
// };
//
// static void vl_jpeg_error_exit(j_common_ptr c) {
//   struct vl_jpeg_err *e = (struct vl_jpeg_err *)c->err;
//   (*c->err->format_message)(c, e->msg);
//   longjmp(e->back, 1);
// }
//
// // vl_jpeg_emit ignores warnings, as Pillow does, except the end of the
// // data: libjpeg pads a truncated file with gray, Pillow refuses it.
// static void vl_jpeg_emit(j_common_ptr c, int level) {
//   if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
//     vl_jpeg_error_exit(c);
//   }
// }
//
// // vl_jpeg_decode decodes data with libjpeg's defaults (integer slow IDCT,
// // fancy upsampling, block smoothing), as Pillow does, into out, which holds
// // cap bytes. Pass 1 (out NULL) reads only the header into w, h, comps.
// // Color JPEGs come out RGB, grayscale ones gray, four-component ones CMYK
// // as stored (Adobe files inverted). It returns 0, or 1 with msg set.
// static int vl_jpeg_decode(const unsigned char *data, unsigned long n, unsigned char *out, size_t cap,
//                           int *w, int *h, int *comps, char *msg) {
//   struct jpeg_decompress_struct cinfo;
//   struct vl_jpeg_err err;
//   memset(&cinfo, 0, sizeof cinfo);
//   cinfo.err = jpeg_std_error(&err.pub);
//   err.pub.error_exit = vl_jpeg_error_exit;
//   err.pub.emit_message = vl_jpeg_emit;
//   err.msg[0] = 0;
//   if (setjmp(err.back)) {
//     strncpy(msg, err.msg, JMSG_LENGTH_MAX - 1);
//     jpeg_destroy_decompress(&cinfo);
//     return 1;
//   }
//   jpeg_create_decompress(&cinfo);
//   jpeg_mem_src(&cinfo, data, n);
//   jpeg_read_header(&cinfo, TRUE);
//   switch (cinfo.num_components) {
//   case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
//   case 3: cinfo.out_color_space = JCS_RGB; break;
//   case 4: cinfo.out_color_space = JCS_CMYK; break;
//   default:
//     snprintf(msg, JMSG_LENGTH_MAX, "%d color components, want 1, 3 or 4", cinfo.num_components);
//     jpeg_destroy_decompress(&cinfo);
//     return 1;
//   }
//   *w = cinfo.image_width;
//   *h = cinfo.image_height;
//   *comps = cinfo.num_components;
//   if (out == NULL) {
//     jpeg_destroy_decompress(&cinfo);
//     return 0;
//   }
//   jpeg_start_decompress(&cinfo);
//   size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
//   if (stride * cinfo.output_height > cap) {
//     snprintf(msg, JMSG_LENGTH_MAX, "decoded size %ux%u does not match its header", cinfo.output_width, cinfo.output_height);
//     jpeg_destroy_decompress(&cinfo);
//     return 1;
//   }
//   while (cinfo.output_scanline < cinfo.output_height) {
//     JSAMPROW row = out + stride * cinfo.output_scanline;
//     jpeg_read_scanlines(&cinfo, &row, 1);
//   }
//   jpeg_finish_decompress(&cinfo);
//   jpeg_destroy_decompress(&cinfo);
//   return 0;
// }
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// libjpeg-turbo is linked statically (libjpeg.a of libjpeg62-turbo-dev), so
// the binary runs where only llama.cpp's own libraries are, as the GPU bundle
// does.

// JPEGDecoder names the decoder DecodeJPEG uses in this build.
const JPEGDecoder = "libjpeg-turbo"

// DecodeJPEG decodes a JPEG with libjpeg-turbo, with the settings Pillow
// uses (integer IDCT, fancy upsampling), so that its pixels are Pillow's.
// An image over maxPixels (when positive) is refused from its header, before
// its pixels are allocated; a truncated file is an error, as in Pillow.
// Warnings about corrupt data that libjpeg recovers from are ignored, as in
// Pillow. Errors do not name a file.
func DecodeJPEG(data []byte, maxPixels int) (JPEGImage, error) {
	if len(data) == 0 {
		return JPEGImage{}, errors.New("empty JPEG data")
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&data[0])
	msg := (*C.char)(C.calloc(C.JMSG_LENGTH_MAX, 1))
	defer C.free(unsafe.Pointer(msg))
	var w, h, comps C.int
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	if C.vl_jpeg_decode(src, C.ulong(len(data)), nil, 0, &w, &h, &comps, msg) != 0 {
		return JPEGImage{}, fmt.Errorf("jpeg: %s", C.GoString(msg))
	}
	if w <= 0 || h <= 0 {
		return JPEGImage{}, fmt.Errorf("jpeg: size %dx%d", int(w), int(h))
	}
	if maxPixels > 0 && int64(w)*int64(h) > int64(maxPixels) {
		return JPEGImage{}, fmt.Errorf("jpeg of %dx%d is over %d pixels", int(w), int(h), maxPixels)
	}
	img := JPEGImage{Width: int(w), Height: int(h), Components: int(comps)}
	img.Pix = make([]byte, img.Width*img.Height*img.Components)
	pin.Pin(&img.Pix[0])
	if C.vl_jpeg_decode(src, C.ulong(len(data)), (*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.size_t(len(img.Pix)), &w, &h, &comps, msg) != 0 {
		return JPEGImage{}, fmt.Errorf("jpeg: %s", C.GoString(msg))
	}
	return img, nil
}
