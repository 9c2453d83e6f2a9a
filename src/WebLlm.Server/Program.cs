using WebLlm.Server;
using WebLlm.Server.Datasets;
using WebLlm.Server.External;
using WebLlm.Server.Imports;
using WebLlm.Server.Inference;
using WebLlm.Server.Live;
using WebLlm.Server.Persistence;
using WebLlm.Server.Runs;
using WebLlm.Server.Security;

WebLlm.Training.NativeAllocator.RestartWithOneArena(typeof(Program).Assembly); // training runs on a thread of its own (see there)
WebLlm.Training.OpenMp.PreferShortSpins(); // before libtorch loads (see there)
WebLlm.Training.NativeAllocator.Tune(); // tensor memory reused from step to step (see there)
var builder = WebApplication.CreateBuilder(ContentRoot.Options(args));

// The Client's files (wwwroot, _framework, _content/MudBlazor) stay in its own folders after a build;
// the build's static web assets manifest points at them. ASP.NET Core reads that manifest only in
// Development, so `dotnet run` (Production) would serve no UI. Reading it in every environment fixes
// that; a published app has no such manifest (the files are copied to wwwroot), so there it does nothing.
builder.WebHost.UseStaticWebAssets();

builder.AddProblems();
builder.AddWebLlmOptions();
builder.AddSecurity();
builder.AddPersistence();
builder.AddLive();
builder.AddDatasets();
builder.AddRuns();
builder.AddExternalRuns();
builder.AddInference();
builder.AddApiDocs();

var app = builder.Build();

app.MigrateDatabase();
app.UseProblems();
app.UseSecurity();

app.MapInfo();
app.MapPresets();
app.MapRuns();
app.MapExternalRuns();
app.MapImports();
app.MapInference();
app.MapDatasets();
app.MapTokenizers();
app.MapTrainingHub();
app.MapApiDocs();
app.MapApiNotFound();
app.MapClientApp();

app.Run();

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
