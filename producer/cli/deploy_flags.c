/*
 * deploy_flags.c - the deployment flags deploy and association create share.
 */
#include "deploy_flags.h"

dr_status dr_deploy_flags_read(const dr_config *cfg, dr_deploy_request *request, dr_selection *selection, dr_error *err)
{
    char *const *tags, *const *arguments;
    size_t tag_count = dr_config_list(cfg, "tag", &tags);
    request->argument_count = dr_config_list(cfg, "arg", &arguments);
    request->arguments = arguments;
    request->max_concurrency = dr_config_string(cfg, "max-concurrency");
    request->max_errors = dr_config_string(cfg, "max-errors");
    dr_status status = dr_action_parse(dr_config_string(cfg, "action"), &request->action, err);
    if (status == DR_OK)
        status =
            dr_installation_type_parse(dr_config_string(cfg, "installation-type"), &request->installation_type, err);
    if (status == DR_OK)
        status = dr_selection_parse(selection, dr_config_string(cfg, "targets"), tags, tag_count,
                                    dr_config_string(cfg, "accounts"), dr_config_string(cfg, "regions"),
                                    dr_config_bool(cfg, "all"), err);
    if (status == DR_OK)
        request->selection = &selection->message;
    return status;
}
