import { registry } from "@web/core/registry";

// A manager finds the collections policies under Accounting and opens the
// company's default policy with its stages.
registry.category("web_tour.tours").add("collections_policy_tour", {
    url: "/odoo",
    steps: () => [
        {
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            trigger: ".o_app[data-menu-xmlid='account.menu_finance']",
            run: "click",
        },
        {
            trigger: ".o_main_navbar button[data-menu-xmlid='collections_omni.menu_collections_root']",
            run: "click",
        },
        {
            trigger: ".dropdown-item[data-menu-xmlid='collections_omni.menu_collections_policy']",
            run: "click",
        },
        {
            trigger: ".o_data_row td[name='name']:contains('Standard')",
            run: "click",
        },
        {
            trigger: ".o_field_one2many[name='stage_ids'] .o_data_row:contains('First reminder')",
        },
        {
            trigger: ".o_field_one2many[name='stage_ids'] .o_data_row:contains('Final notice')",
        },
    ],
});
