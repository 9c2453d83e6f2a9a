using WebLlm.Server;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddProblemDetails();
builder.AddWebLlmOptions();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseBlazorFrameworkFiles();
app.UseStaticFiles();

app.MapInfo();
app.MapApiNotFound();
app.MapFallbackToFile("index.html");

app.Run();

/// <summary>Visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
