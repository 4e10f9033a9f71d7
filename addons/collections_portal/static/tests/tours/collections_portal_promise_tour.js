import { registry } from "@web/core/registry";

// The customer of TestPortalPromiseTour (invoices of 300.00 and 200.00, and
// 80.00 in another currency) ticks invoices on the promise form: the amount
// follows them until the customer types one of their own, which is kept.
const invoice = (residual) => `form.o_collections_promise_form input[name='invoice_ids'][data-residual='${residual}']`;
// A number input's value as hoot reads it: its valueAsNumber.
const amountIs = (number) => `form.o_collections_promise_form input[name='amount']:value(/^${number}$/)`;

registry.category("web_tour.tours").add("collections_portal_promise_tour", {
    url: "/my/collections/promise",
    steps: () => [
        { content: "Tick the 300.00 invoice", trigger: invoice("300.00"), run: "click" },
        { content: "The amount is what it owes", trigger: amountIs(300) },
        { content: "Tick the 200.00 invoice", trigger: invoice("200.00"), run: "click" },
        { content: "The amount is what both owe", trigger: amountIs(500) },
        { content: "Untick the 300.00 invoice", trigger: invoice("300.00"), run: "click" },
        { content: "The amount follows", trigger: amountIs(200) },
        { content: "Tick an invoice in another currency", trigger: invoice("80.00"), run: "click" },
        {
            content: "Two currencies: no amount to propose",
            trigger: "form.o_collections_promise_form input[name='amount']",
            run() {
                if (this.anchor.value !== "") {
                    throw new Error(`The amount should be empty, not ${this.anchor.value}`);
                }
            },
        },
        { content: "Untick it", trigger: invoice("80.00"), run: "click" },
        { content: "The amount is back", trigger: amountIs(200) },
        { content: "Type an amount of my own", trigger: "input[name='amount']", run: "edit 150" },
        { content: "Tick the 300.00 invoice again", trigger: invoice("300.00"), run: "click" },
        { content: "My own amount is kept", trigger: amountIs(150) },
        {
            content: "Pay by today",
            trigger: "input[name='promised_date']",
            run() {
                this.anchor.value = this.anchor.min;
            },
        },
        { content: "Send the promise", trigger: "button[type='submit']:contains(Send my promise)", run: "click" },
        { content: "The promise is recorded", trigger: ".alert-success:contains(your promise is recorded)" },
    ],
});
