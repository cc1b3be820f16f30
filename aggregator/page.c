#include "page.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "strbuf.h"

/* console_assets.c, generated from aggregator/console/ (scripts/embed.cmake). */
extern const char dr_asset_console_html[];
extern const char dr_asset_console_css[];
extern const char dr_asset_console_js[];

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *document;
static char headers[1024];

/* 'sha256-BASE64' of text, as a CSP source expression. */
static void csp_hash(const char *text, char out[64])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char hex[DR_SHA256_HEX_SIZE];
    unsigned char digest[32];
    dr_sha256_buffer_hex(text, strlen(text), hex);
    for (int i = 0; i < 32; i++) {
        unsigned byte;
        sscanf(hex + 2 * i, "%2x", &byte);
        digest[i] = (unsigned char)byte;
    }
    char *o = out + sprintf(out, "'sha256-");
    for (int i = 0; i < 32; i += 3) {
        unsigned v = (unsigned)digest[i] << 16 | (i + 1 < 32 ? (unsigned)digest[i + 1] << 8 : 0) |
                     (i + 2 < 32 ? digest[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < 32 ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < 32 ? b64[v & 63] : '=';
    }
    strcpy(o, "'");
}

/* The HTML with {{style}} and {{script}} replaced by the CSS and the script. */
static void build(void)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    const char *html = dr_asset_console_html;
    const char *style = strstr(html, "{{style}}"), *script = strstr(html, "{{script}}");
    if (!style || !script || script < style) {
        dr_strbuf_puts(&sb, html); /* a broken template shows as it is rather than crash */
    } else {
        dr_strbuf_append(&sb, html, (size_t)(style - html));
        dr_strbuf_puts(&sb, dr_asset_console_css);
        dr_strbuf_append(&sb, style + 9, (size_t)(script - style - 9));
        dr_strbuf_puts(&sb, dr_asset_console_js);
        dr_strbuf_puts(&sb, script + 10);
    }
    document = sb.failed ? NULL : dr_strbuf_detach(&sb, NULL);
    dr_strbuf_free(&sb);
    char style_hash[64], script_hash[64];
    csp_hash(dr_asset_console_css, style_hash);
    csp_hash(dr_asset_console_js, script_hash);
    snprintf(headers, sizeof headers,
             "Content-Security-Policy: default-src 'none'; script-src %s; style-src %s; connect-src 'self'; "
             "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
             "X-Content-Type-Options: nosniff\r\n"
             "Referrer-Policy: no-referrer\r\n",
             script_hash, style_hash);
}

const char *dr_aggregator_page(void)
{
    pthread_once(&once, build);
    return document ? document : "out of memory\n";
}

const char *dr_aggregator_page_headers(void)
{
    pthread_once(&once, build);
    return headers;
}
