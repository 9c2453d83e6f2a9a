namespace WebLlm.Client.Services;

public static class ServiceCollectionExtensions
{
    /// <summary>The REST client, the one hub connection and the one store (singletons in WebAssembly: one user, one tab).</summary>
    public static IServiceCollection AddWebLlmClient(this IServiceCollection services) => services
        .AddScoped<ApiKeyStore>()
        .AddScoped<WebLlmApi>()
        .AddScoped<TrainingHub>()
        .AddScoped<RunStore>();
}
