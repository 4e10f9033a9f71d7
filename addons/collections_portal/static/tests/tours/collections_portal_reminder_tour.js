import { registry } from "@web/core/registry";

// TestPortalReminderTour: a Spanish customer opens the link of a reminder the
// engine emailed (no password), sees the balance, disputes the oldest invoice,
// requests a plan for the other two within the policy's limits (approved at
// once), pays its first installment with the demo provider and sees that it
// counts. Each page is photographed by the test (phone and desktop): the
// "shot" steps ask for it and wait until it is taken.
const shot = (name) => [
    {
        content: `Photograph ${name}`,
        trigger: "body",
        run() {
            console.log(`collections-shot:${name}`);
        },
    },
    { content: `${name} photographed`, trigger: `body[data-collections-shot='${name}']`, timeout: 60000 },
];
const invoiceBox = (row) => `input[name='invoice_ids'][data-residual='${row}']`;

registry.category("web_tour.tours").add("collections_portal_reminder_tour", {
    steps: () => [
        // The balance, in Spanish, without logging in.
        { content: "The balance page", trigger: "h3:contains(Mi saldo), .o_collections_aging" },
        { content: "In Spanish", trigger: "button.o_collections_pay_selected:contains(Pagar las seleccionadas)" },
        { content: "The three invoices are open", trigger: `${invoiceBox("300.00")}:not(:disabled)` },
        ...shot("01_saldo"),
        // A dispute over the oldest invoice: the identity check comes first.
        { content: "Tick the disputed invoice", trigger: invoiceBox("300.00"), run: "click" },
        { content: "Report a problem", trigger: "button.o_collections_dispute", run: "click" },
        { content: "Confirm it is me", trigger: "input[name='answer']" },
        ...shot("02_verificacion"),
        { content: "The last 4 digits of the tax ID", trigger: "input[name='answer']", run: "edit 5678" },
        { content: "Continue", trigger: "form[action='/my/collections/verify'] button[type='submit']", run: "click" },
        { content: "The dispute form, the invoice ticked", trigger: `form.o_collections_dispute_form ${invoiceBox("300.00")}:checked` },
        { content: "The amount is wrong", trigger: "select[name='reason']", run: "select wrong_amount" },
        {
            content: "In my own words",
            trigger: "textarea[name='description']",
            run: "edit El importe no es el acordado en el presupuesto.",
        },
        ...shot("03_disputa"),
        { content: "Send the dispute", trigger: "form.o_collections_dispute_form button[type='submit']", run: "click" },
        { content: "The dispute is recorded", trigger: ".alert-success:contains(Gracias)" },
        { content: "The disputed invoice is on hold", trigger: `${invoiceBox("300.00")}:disabled` },
        ...shot("04_disputa_enviada"),
        // A plan for the other two, within the policy's limits.
        { content: "Tick the 100.00 invoice", trigger: invoiceBox("100.00"), run: "click" },
        { content: "Tick the 200.00 invoice", trigger: invoiceBox("200.00"), run: "click" },
        {
            content: "Request a payment plan",
            trigger: "button[formaction='/my/collections/plan']",
            run: "click",
        },
        { content: "Two installments", trigger: "select[name='installment_count']", run: "select 2" },
        { content: "Show the schedule", trigger: "button[name='preview']", run: "click" },
        { content: "The schedule: two of 150.00", trigger: "table:contains(150,00)" },
        { content: "Within the limits", trigger: ".o_collections_approved_at_once" },
        ...shot("05_plan"),
        { content: "Send my request", trigger: "button[name='submit']", run: "click" },
        { content: "Approved at once", trigger: ".alert-success:contains(aprobado)" },
        {
            content: "The reminders of these invoices stop",
            trigger: ".alert-success:contains(Ya no le enviamos recordatorios de estas facturas)",
        },
        ...shot("06_plan_aprobado"),
        // The first installment with Odoo's demo provider.
        { content: "Pay the next installment", trigger: ".o_collections_pay_next a.btn-primary", run: "click" },
        { content: "The installment's amount", trigger: ".o_collections_pay_total:contains(150,00)" },
        { content: "The demo provider's form", trigger: "input#customer_input" },
        ...shot("07_pago"),
        { content: "Pay", trigger: "button[name='o_payment_submit_button']:enabled", run: "click" },
        { content: "It counts for the installment", trigger: ".alert-success:contains(Gracias por su pago)", timeout: 30000 },
        ...shot("08_cuota_pagada"),
        { content: "Back to my balance", trigger: "a[href='/my/collections']:contains(Volver)", run: "click" },
        { content: "The balance after the payment", trigger: "button.o_collections_pay_selected" },
        ...shot("09_saldo_final"),
    ],
});
