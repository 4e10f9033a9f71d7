import { registry } from "@web/core/registry";

const { DateTime } = luxon;

// The collector's day (issue 19), as a user with only the Collector group and
// Billing: the worklist, a call logged with each outcome, a promise to pay, a
// payment plan and a dispute, each through its form and buttons.
const CUSTOMER = "Cliente Jornada";
const inDays = (days) => DateTime.now().plus({ days }).toFormat("MM/dd/yyyy");

function logCall(outcome, extra = []) {
    return [
        {
            content: `Log a call (${outcome}) from the customer's worklist row`,
            trigger: `.o_data_row:contains('${CUSTOMER}') button[name='action_log_call']`,
            run: "click",
        },
        {
            trigger: `.modal div[name='outcome'] input[data-value='${outcome}']`,
            run: "click",
        },
        ...extra,
        {
            trigger: ".modal div[name='note'] textarea",
            run: `edit Llamada: ${outcome}`,
        },
        {
            trigger: ".modal button[name='action_confirm']",
            run: "click",
        },
        {
            content: "The call is logged: the dialog closed without an error",
            trigger: "body:not(:has(.modal))",
        },
    ];
}

function followUp(days) {
    return [
        {
            trigger: ".modal div[name='next_date'] input",
            run: `edit ${inDays(days)}`,
        },
    ];
}

// Type ``text`` in the form's relational field ``field`` and pick the suggestion showing ``choice``.
function pick(field, text, choice = text) {
    return [
        {
            trigger: `.o_form_view div[name='${field}'] input`,
            run: `edit ${text}`,
        },
        {
            trigger: `.o-autocomplete--dropdown-item a:contains('${choice}')`,
            run: "click",
        },
    ];
}

function save() {
    return [
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_form_saved",
        },
    ];
}

function customerAndInvoice() {
    return [
        ...pick("partner_id", CUSTOMER),
        ...pick("move_ids", "INV", "INV/"),
        {
            trigger: ".o_form_view div[name='move_ids'] .o_tag:contains('INV/')",
        },
    ];
}

function openMenu(xmlid) {
    return [
        {
            trigger: ".o_main_navbar button[data-menu-xmlid='collections_omni.menu_collections_root']",
            run: "click",
        },
        {
            trigger: `.dropdown-item[data-menu-xmlid='collections_omni.${xmlid}']`,
            run: "click",
        },
        {
            trigger: ".o_list_button_add",
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("collections_collector_day_tour", {
    steps: () => [
        {
            content: "The worklist shows the customer",
            trigger: `.o_data_row:contains('${CUSTOMER}')`,
        },
        ...logCall("no_answer"),
        ...logCall("wrong_number"),
        ...logCall("paid"),
        ...logCall("callback", followUp(3)),
        ...logCall("promised", followUp(5)),
        ...logCall("disputed"),
        // A promise to pay, on its own form.
        ...openMenu("menu_collections_promise"),
        ...pick("partner_id", CUSTOMER),
        {
            trigger: ".o_form_view div[name='amount'] input",
            run: "edit 120",
        },
        {
            trigger: ".o_form_view div[name='promised_date'] input",
            run: `edit ${inDays(7)}`,
        },
        ...save(),
        // A payment plan: drafted, scheduled, activated.
        ...openMenu("menu_collections_payment_plan"),
        ...customerAndInvoice(),
        {
            trigger: ".o_form_view div[name='installment_count'] input",
            run: "edit 3",
        },
        ...save(),
        {
            trigger: ".o_form_view button[name='action_generate_schedule']",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name='action_activate']:visible",
            run: "click",
        },
        {
            content: "The plan is active",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Active')",
        },
        // A dispute over an invoice.
        ...openMenu("menu_collections_dispute"),
        ...customerAndInvoice(),
        {
            trigger: ".o_form_view div[name='reason'] select",
            run: 'select "not_received"',
        },
        {
            trigger: ".o_form_view div[name='description'] textarea",
            run: "edit El cliente no recibió el servicio",
        },
        ...save(),
    ],
});
