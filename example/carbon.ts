/**
 * Carbon AI Chat, the example page's chat host (bundled by `build.ts` into `dist/example-carbon.js`,
 * loaded only when the page runs without real watsonx settings). Importing it defines the
 * `cds-aichat-container` custom element.
 *
 * @module
 */

import "@carbon/ai-chat/dist/es/web-components/cds-aichat-container/index.js";
