// The navigation: one entry per view. Adding a view = one module (export default a component
// that takes {args, query}) + one entry here. `nav: false` views are reached by links only
// (e.g. a download's detail). `role`: the least role that sees it. `group`: the nav section.
export const VIEWS = [
  { id: "downloads", title: "Downloads", icon: "downloads", group: "Transfers", role: "viewer", load: () => import("./view-downloads.js") },
  { id: "add", title: "Add", icon: "add", group: "Transfers", role: "user", load: () => import("./view-add.js") },
  { id: "search", title: "Search", icon: "search", group: "Transfers", role: "viewer", load: () => import("./view-search.js") },
  { id: "library", title: "Library", icon: "library", group: "Transfers", role: "viewer", load: () => import("./view-library.js") },
  { id: "batches", title: "Batches", icon: "batches", group: "Transfers", role: "viewer", load: () => import("./view-batches.js") },
  { id: "queue", title: "Queue", icon: "queue", group: "Transfers", role: "viewer", load: () => import("./view-queue.js") },
  { id: "stats", title: "Statistics", icon: "stats", group: "Insight", role: "viewer", load: () => import("./view-stats.js") },
  { id: "activity", title: "Activity", icon: "activity", group: "Insight", role: "viewer", load: () => import("./view-activity.js") },
  { id: "feeds", title: "Feeds", icon: "feeds", group: "Automation", role: "viewer", load: () => import("./view-feeds.js") },
  { id: "jobs", title: "Jobs", icon: "jobs", group: "Automation", role: "viewer", load: () => import("./view-jobs.js") },
  { id: "notifications", title: "Notifications", icon: "bell", group: "Automation", role: "viewer", load: () => import("./view-notifications.js") },
  { id: "health", title: "Health", icon: "health", group: "System", role: "admin", load: () => import("./view-health.js") },
  { id: "naming", title: "Naming", icon: "file", group: "System", role: "viewer", load: () => import("./view-naming.js") },
  { id: "providers", title: "Providers", icon: "providers", group: "System", role: "admin", load: () => import("./view-providers.js") },
  { id: "settings", title: "Settings", icon: "settings", group: "System", role: "admin", load: () => import("./view-settings.js") },
  { id: "users", title: "Users", icon: "users", group: "System", role: "admin", load: () => import("./view-users.js") },
  { id: "account", title: "Account", icon: "account", group: "System", role: "viewer", load: () => import("./view-account.js") },
  { id: "download", title: "Download", nav: false, role: "viewer", load: () => import("./view-download.js") },
  { id: "feed", title: "Feed", nav: false, role: "viewer", load: () => import("./view-feeds.js"), export: "FeedDetail" },
  { id: "batch", title: "Batch", nav: false, role: "viewer", load: () => import("./view-batches.js"), export: "BatchDetail" },
];
export const DEFAULT_VIEW = "downloads";
