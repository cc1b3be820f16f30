/*
 * page.h - the aggregator's console (GET /): one self-contained HTML
 * document, no external assets, made of aggregator/console/console.html
 * with console.css and console.js inline (compiled in by
 * scripts/embed.cmake).  It keeps one EventSource on /events and renders the
 * deployments, a deployment's locations and failed targets (read a page at a
 * time as the operator scrolls), the fleet and the associations.
 *
 * It is served with a Content-Security-Policy that allows its own inline
 * style and script by their SHA-256 and nothing else: no other script,
 * style, frame, form target or origin (connect-src 'self').
 */
#ifndef DROVER_AGGREGATOR_PAGE_H
#define DROVER_AGGREGATOR_PAGE_H

/* The document (NUL-terminated; the same pointer each call). */
const char *dr_aggregator_page(void);
/* Its header lines ("Name: value\r\n" each): the Content-Security-Policy and friends. */
const char *dr_aggregator_page_headers(void);

#endif
