"""kitaru-azure's stand-ins for ``kitaru smoke`` (declared by the plugin's ``kitaru_standins``;
imported only by a smoke run that needs them):

- :mod:`~kitaru_azure.smoke.azurite`: Azurite (Microsoft's emulator) for Blob Storage;
- :mod:`~kitaru_azure.smoke.fake`: a hand-written HTTPS fake of Key Vault, AzureML, Entra ID and
  a compute's managed identity (no emulator exists for them);
- :mod:`~kitaru_azure.smoke.azureml`: what runs the fake's command jobs in the container engine;
- :mod:`~kitaru_azure.smoke.standin`: the starter that puts them in place of a stack's
  ``azure``/``azureml``/``acr`` components.
"""
