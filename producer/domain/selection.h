/*
 * selection.h - which targets a deployment is for.
 *
 * A selection (the TargetSelection of proto/drover.proto) is any of: target
 * ids, tag filters, accounts, regions, or "all".  A target is selected when
 * it meets every criterion given (the intersection): its id is one of the
 * ids; for every tag key, its value of that key is one of the values given
 * for the key (values of one key OR'ed, keys AND'ed); its account is one of
 * the accounts; its region one of the regions.  "all" alone selects every
 * target; with other criteria it adds nothing.
 *
 * The selection is kept in the Deployment as given, so that whoever
 * releases jobs later (the control plane's rate-controlled rollout) resolves
 * it with the same function against the inventory of its time.
 */
#ifndef DROVER_PRODUCER_SELECTION_H
#define DROVER_PRODUCER_SELECTION_H

#include <stddef.h>

#include "drover.pb-c.h"
#include "error.h"
#include "targets.h"

/* A TargetSelection built from the command line; owns everything it points to. */
typedef struct dr_selection {
    Drover__V1__TargetSelection message;
} dr_selection;

/*
 * Build a selection from the command line's values: ids, accounts and
 * regions comma-separated (NULL: not given), tags "KEY=VALUE" each, all.
 * DR_ERR_USAGE when nothing is selected by any criterion, or an id, account,
 * region or tag is malformed.  Free with dr_selection_free, also on error.
 */
dr_status dr_selection_parse(dr_selection *out, const char *ids, char *const *tags, size_t tag_count,
                             const char *accounts, const char *regions, int all, dr_error *err);

void dr_selection_free(dr_selection *selection);

/* Whether target meets every criterion of selection. */
int dr_selection_matches(const Drover__V1__TargetSelection *selection, const Drover__V1__Target *target);

/*
 * The targets of inventory that selection selects, in id order: *out is an
 * array of pointers into inventory (caller frees the array).  DR_ERR_USAGE
 * when an id of the selection is not in the inventory (the detail lists the
 * unknown ids) or when nothing is selected.
 */
dr_status dr_selection_resolve(const Drover__V1__TargetSelection *selection, const dr_inventory *inventory,
                               const Drover__V1__Target ***out, size_t *count, dr_error *err);

/* "ids a,b; tag Env=prod|dev; accounts 1,2; regions r; all", for messages and listings. */
void dr_selection_describe(const Drover__V1__TargetSelection *selection, char *buf, size_t size);

#endif
