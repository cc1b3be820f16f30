/*
 * page.h - the aggregator's live page (GET /): one self-contained HTML
 * document, no external assets, that polls /deployments every second and
 * shows each deployment with a progress bar; clicking one shows its
 * locations and failed targets (from /deployments/{id}).
 */
#ifndef DROVER_AGGREGATOR_PAGE_H
#define DROVER_AGGREGATOR_PAGE_H

extern const char dr_aggregator_page_html[];

#endif
