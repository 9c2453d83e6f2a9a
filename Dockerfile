# WebLlm in a container (README.md, "Deploying"): the server, the dashboard and libtorch (CPU) on the official .NET
# images; database, datasets and checkpoints in the volume /data.
#   docker build -t webllm .
#   docker run -d --name webllm -p 8080:8080 -v webllm-data:/data -e WebLlm__ApiKey="$(openssl rand -hex 32)" webllm
# It listens on all of the container's addresses, so the server refuses to start without an API key.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/WebLlm.Server -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# The unprefixed Urls variable outranks appsettings.json's loopback address (ASPNETCORE_URLS would not).
ENV Urls=http://0.0.0.0:8080 \
    AllowedHosts=* \
    WebLlm__DataDirectory=/data
RUN mkdir /data && chown "$APP_UID" /data
VOLUME /data
EXPOSE 8080
USER $APP_UID
ENTRYPOINT ["dotnet", "WebLlm.Server.dll"]
