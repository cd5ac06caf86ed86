package dev.concurry.examples.llm;

import org.springframework.boot.web.context.WebServerInitializedEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.stereotype.Component;

/** Where the mock provider listens: this application's own port, known once the server has started. */
@Component
class ProviderAddress implements ApplicationListener<WebServerInitializedEvent> {
    private volatile int port;

    @Override
    public void onApplicationEvent(WebServerInitializedEvent event) {
        port = event.getWebServer().getPort();
    }

    String url() {
        return "http://127.0.0.1:" + port;
    }
}
