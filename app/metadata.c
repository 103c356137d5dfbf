/* SPDX-License-Identifier: MIT */
/*
 * metadata.c — removing the metadata an output must not keep. See metadata.h.
 */
#include <string.h>
#include <strings.h>	/* strncasecmp */

#include <vips/vips.h>

#include "metadata.h"

/* What to drop, and the names found so far (fields cannot be removed while
 * vips_image_map() walks them). */
typedef struct drop {
	int keep;
	GSList *names;
} drop;

/* Whether field name is one keep does not cover. */
static int unwanted(int keep, const char *name)
{
	/* The input's own EXIF preview (IFD1 and its JPEG), kept by no LIST: a
	 * thumbnail's EXIF kept it, a picture of the whole photo, uncropped where
	 * --fit cover cropped it, often larger than a small thumbnail. libvips
	 * leaves out the JPEG once its field is gone, and the IFD's tags once
	 * theirs are (left, they described a JPEG not there). */
	if (!strcmp(name, "jpeg-thumbnail-data") || !strncmp(name, "exif-ifd1-", 10))
		return 1;
	if (!strcmp(name, VIPS_META_EXIF_NAME) || !strncmp(name, "exif-ifd", 8))
		return !(keep & KEEP_EXIF) ||
		       (!(keep & KEEP_GPS) && !strncmp(name, "exif-ifd3-", 10));
	if (!strcmp(name, VIPS_META_XMP_NAME))
		return !(keep & KEEP_XMP);
	if (!strcmp(name, VIPS_META_IPTC_NAME))
		return !(keep & KEEP_IPTC);
	if (!strcmp(name, VIPS_META_ICC_NAME))
		return !(keep & KEEP_ICC);
	/* A PNG's text chunks are none of the kinds a LIST names: a PNG output
	 * never carried them through, whatever the list, and pngsave refuses a file
	 * whose keywords break the PNG rules (a space at the end, a byte over 0x7e)
	 * that the loader took. */
	if (!strncmp(name, "png-comment-", 12))
		return 1;
	return 0;
}

static void *collect(VipsImage *im, const char *name, GValue *value, void *a)
{
	drop *d = a;

	(void)im;
	(void)value;
	if (unwanted(d->keep, name))
		d->names = g_slist_prepend(d->names, g_strdup(name));
	return NULL;
}

/* Does data hold word, in any case? (XMP is not NUL-terminated.) */
static int has_word_nocase(const char *data, size_t len, const char *word)
{
	size_t n = strlen(word);
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(data + i, word, n) == 0)
			return 1;
	return 0;
}

/* Does the XMP packet name a position? exif:GPSLatitude, DJI drones'
 * drone-dji:GpsLatitude (a case-sensitive search let it through), or any
 * latitude with a longitude: the whole packet goes, as the man page says. */
static int xmp_has_gps(VipsImage *im)
{
	const void *data;
	size_t len;

	if (!vips_image_get_typeof(im, VIPS_META_XMP_NAME) ||
	    vips_image_get_blob(im, VIPS_META_XMP_NAME, &data, &len))
		return 0;
	return has_word_nocase(data, len, "gpslatitude") ||
	       has_word_nocase(data, len, "gpslongitude") ||
	       (has_word_nocase(data, len, "latitude") && has_word_nocase(data, len, "longitude"));
}

/* x[k], or the first byte past the XML white space (space, tab, CR, LF) there. */
static size_t past_space(const char *x, size_t len, size_t k)
{
	while (k < len && (x[k] == ' ' || x[k] == '\t' || x[k] == '\n' || x[k] == '\r'))
		k++;
	return k;
}

/* Whether the XMP packet x[0, len) binds prefix p[0, n) to the TIFF namespace
 * (xmlns:P="http://ns.adobe.com/tiff/1.0/", either quote, spaces around '='). */
static int tiff_prefix(const char *x, size_t len, const char *p, size_t n)
{
	static const char ns[] = "http://ns.adobe.com/tiff/1.0/";
	if (n == 4 && !memcmp(p, "tiff", 4))
		return 1; /* the usual one, bound or not */
	for (size_t i = 0; i + 6 + n < len; i++) {
		if (memcmp(x + i, "xmlns:", 6) || memcmp(x + i + 6, p, n))
			continue;
		size_t k = past_space(x, len, i + 6 + n);
		if (k < len && x[k] == '=')
			k++;
		k = past_space(x, len, k);
		if (k + 1 + sizeof ns - 1 <= len && (x[k] == '"' || x[k] == '\'') &&
		    !memcmp(x + k + 1, ns, sizeof ns - 1))
			return 1;
	}
	return 0;
}

/* Where the digit of an Orientation property is, after its name ending at x + at:
 * an element's text (>6<) or an attribute's value (="6", = '6'); 0 if none. */
static size_t orientation_digit(const char *x, size_t len, size_t at)
{
	size_t k = past_space(x, len, at);
	if (k < len && x[k] == '>')
		k++;
	else if (k < len && x[k] == '=') {
		k = past_space(x, len, k + 1);
		if (k >= len || (x[k] != '"' && x[k] != '\''))
			return 0;
		k++;
	} else
		return 0;
	if (k >= len || x[k] < '1' || x[k] > '8' || (k + 1 < len && x[k + 1] >= '0' && x[k + 1] <= '9'))
		return 0;
	return k;
}

/* Make the XMP packet's tiff:Orientation (attribute or element: one digit) say
 * the image's own orientation: 1 once turned upright. Left at 6, as Lightroom
 * exports carry it, a viewer that reads XMP turned the upright thumbnail a
 * second time (the only orientation in a WebP or PNG). Any prefix bound to the
 * TIFF namespace, either quote, spaces around '=' (all valid XML: exiftool
 * writes single quotes). The digit is replaced in place: the XML is not
 * otherwise touched. */
static void xmp_orientation(VipsImage *im)
{
	const void *data;
	size_t len;
	static const char tag[] = ":Orientation";
	const size_t n = sizeof tag - 1;
	char now = (char)('0' + vips_image_get_orientation(im));

	if (!vips_image_get_typeof(im, VIPS_META_XMP_NAME) ||
	    vips_image_get_blob(im, VIPS_META_XMP_NAME, &data, &len) || now < '1' || now > '8')
		return;
	char *copy = NULL;
	for (size_t i = 1; i + n + 2 < len; i++) {
		const char *x = copy ? copy : data;
		if (memcmp(x + i, tag, n))
			continue;
		size_t p = i; /* the prefix: the name characters before the colon */
		while (p > 0 && (g_ascii_isalnum(x[p - 1]) || x[p - 1] == '_' || x[p - 1] == '-' ||
				 x[p - 1] == '.'))
			p--;
		size_t d = orientation_digit(x, len, i + n);
		if (p == i || !d || x[d] == now || !tiff_prefix(x, len, x + p, i - p))
			continue;
		if (!copy && !(copy = g_memdup2(data, len)))
			return;
		copy[d] = now;
	}
	if (copy)
		vips_image_set_blob_copy(im, VIPS_META_XMP_NAME, copy, len);
	g_free(copy);
}

int metadata_select(int keep, VipsImage *in, VipsImage **out)
{
	drop d = {keep, NULL};

	if (vips_copy(in, out, NULL))
		return -1;
	vips_image_map(*out, collect, &d);
	for (GSList *p = d.names; p; p = p->next)
		vips_image_remove(*out, p->data);
	g_slist_free_full(d.names, g_free);
	if (!(keep & KEEP_GPS) && xmp_has_gps(*out))
		vips_image_remove(*out, VIPS_META_XMP_NAME);
	xmp_orientation(*out);
	return 0;
}
