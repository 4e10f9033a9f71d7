import { registry } from "@web/core/registry";

// Analytics (issue 17), as a user with only the Collections Manager group and Billing.

function addVariant(row, name, share, extra = []) {
    // The new line's own row: typing before it is selected would land in the previous line.
    const line = `div[name='variant_ids'] .o_data_row:nth-child(${row}).o_selected_row`;
    return [
        {
            content: `Add the variant ${name}`,
            trigger: "div[name='variant_ids'] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: `${line} div[name='name'] input`,
            run: `edit ${name}`,
        },
        {
            trigger: `${line} div[name='share'] input`,
            run: `edit ${share}`,
        },
        ...extra.map((step) => ({ ...step, trigger: `${line} ${step.trigger}` })),
    ];
}

// A manager creates an A/B test of a stage action: two variants, a 60/40 split, then starts it.
registry.category("web_tour.tours").add("collections_ab_test_create_tour", {
    steps: () => [
        {
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_form_view div[name='name'] input",
            run: "edit Email or SMS first",
        },
        {
            content: "The stage action is found by its stage, and named with its policy and stage",
            trigger: ".o_form_view div[name='action_id'] input",
            run: "edit First",
        },
        {
            trigger: ".o-autocomplete--dropdown-item a:contains('Test default / First: Email')",
            run: "click",
        },
        {
            trigger: ".o_form_view div[name='min_sample'] input",
            run: "edit 3",
        },
        ...addVariant(1, "Control", 60),
        ...addVariant(2, "SMS", 40, [
            {
                trigger: "div[name='channel'] select",
                run: "selectByLabel SMS",
            },
        ]),
        {
            content: "The shares add up to 100",
            trigger: "div[name='variant_ids'] tfoot:contains('100.00')",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            trigger: ".o_form_saved",
        },
        {
            trigger: ".o_form_view button[name='action_start']",
            run: "click",
        },
        {
            content: "Running, and too early to call a winner",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Running')",
        },
        {
            trigger: ".o_form_view div[name='result_note']:contains('Too early')",
        },
    ],
});

// The results: Wilson intervals and p-values per variant, a winner once significant; promote it.
registry.category("web_tour.tours").add("collections_ab_test_promote_tour", {
    steps: () => [
        {
            content: "The results per variant: customers, paid rate, the 95% interval and the p-value",
            trigger: "div[name='variant_ids'] thead:contains('95% CI Low'):contains('95% CI High'):contains('p-value')",
        },
        {
            trigger: "div[name='variant_ids'] .o_data_row:contains('SMS') td[name='conversion_rate']:contains('100.0')",
        },
        {
            trigger: "div[name='variant_ids'] .o_data_row:contains('Control') td[name='conversion_rate']:contains('0.0')",
        },
        {
            content: "A winner: the minimum sample reached and the difference significant",
            trigger: ".o_form_view div[name='result_note']:contains('SMS converts best')",
        },
        {
            trigger: ".o_form_view button[name='action_promote_winner']",
            run: "click",
        },
        {
            content: "Promoting asks first: the winner replaces the stage action's reminder",
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Done')",
        },
        {
            trigger: ".o_form_view div[name='winner_id']:contains('SMS')",
        },
    ],
});

// A manager opens a customer's risk score, reads each factor's points and reason, and
// confirms the suggested move through the review wizard.
registry.category("web_tour.tours").add("collections_risk_review_tour", {
    steps: () => [
        {
            trigger: ".o_notebook a.nav-link:contains('Collections')",
            run: "click",
        },
        {
            content: "The score and its suggested band",
            trigger: "div[name='collections_risk_suggested_band']:contains('High')",
        },
        {
            content: "Every factor with its points and the reason for them",
            trigger:
                ".o_collections_risk:contains('Average days late'):contains('Invoices paid late')" +
                ":contains('Broken promises and plans'):contains('Exposure against the credit limit')" +
                ":contains('Trend of the last months'):contains('Pays late'):contains('Often late')",
        },
        {
            trigger: "button[name='action_collections_risk_review']",
            run: "click",
        },
        {
            content: "The wizard shows the same factors before anything moves",
            trigger: ".modal .o_collections_risk:contains('Average days late')",
        },
        {
            trigger: ".modal div[name='current_policy_id']:contains('Test default')",
        },
        {
            trigger: ".modal div[name='note'] textarea",
            run: "edit Revisado el mayor",
        },
        {
            trigger: ".modal button[name='action_confirm']",
            run: "click",
        },
        {
            content: "Confirmed: the band is the customer's",
            trigger: "body:not(:has(.modal)) div[name='collections_risk_band']:contains('High')",
        },
    ],
});
