/** An app's own console panels (a plug-in named in its cdk.json, context "localCloud:consolePlugins"). */
export {
  type ConsoleContext,
  type ConsolePlugin,
  type ConsolePluginFactory,
  TableReader,
} from "./console.ts";
