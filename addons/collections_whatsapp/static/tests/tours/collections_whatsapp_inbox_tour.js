import { registry } from "@web/core/registry";

// A collector opens the WhatsApp inbox, finds the unread conversation of a
// customer who wrote an hour ago (the 24-hour window is open), answers in
// the reply box and sees the answer on the conversation's chatter.
registry.category("web_tour.tours").add("collections_whatsapp_inbox_tour", {
    steps: () => [
        {
            content: "The unread conversation is in the inbox",
            trigger: ".o_data_row:contains('Cliente Tour SL') td[name='display_label']",
            run: "click",
        },
        {
            content: "The window is open: the reply box is there",
            trigger: ".o_field_widget[name='reply_text'] textarea",
            run: "edit ¿Le viene bien pagar el viernes?",
        },
        {
            content: "Send the reply",
            trigger: "button[name='action_send_reply']",
            run: "click",
        },
        {
            content: "The reply is on the conversation",
            trigger: ".o-mail-Message-body:contains('¿Le viene bien pagar el viernes?')",
        },
    ],
});
